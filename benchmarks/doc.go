// Package benchmarks measures what a scan costs: the procblocking input
// against Telegraf's own procstat input and against the least work that can
// answer the question (the "floor"), and what the alertstate processor costs
// per metric. Everything lives in _test.go files; `make bench` runs it and
// docs/benchmarks.md reports the figures.
package benchmarks
