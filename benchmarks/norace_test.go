//go:build linux && !race

package benchmarks

const raceEnabled = false
