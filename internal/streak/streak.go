// Package streak turns a run of failures of one operation into one warning,
// and says when the operation works again: a full disk retried at every
// scan would otherwise flood the log with the same line.
package streak

// Logger is what a streak logs through (telegraf.Logger is one).
type Logger interface {
	Warnf(format string, args ...any)
	Infof(format string, args ...any)
}

// Failures counts the failures of one operation since it last worked. The
// zero value is an operation that works.
type Failures struct {
	n int
}

// Fail records a failure of what (an operation, as a sentence starts it:
// "Writing the queue file"), warning with err and its consequence for the
// first failure of a streak only.
func (f *Failures) Fail(log Logger, what string, err error, consequence string) {
	if f.n == 0 {
		log.Warnf("%s failed: %v; %s", what, err, consequence)
	}
	f.n++
}

// Failed records a failure that the caller reported itself: the streak
// starts without another warning, and OK says when it ends.
func (f *Failures) Failed() {
	f.n++
}

// OK records that what worked, saying so when it ends a streak.
func (f *Failures) OK(log Logger, what string) {
	if f.n > 0 {
		log.Infof("%s works again after %d failed attempts", what, f.n)
	}
	f.n = 0
}
