package qcow2

// SetWriterCacheBytes sets how many compressed bytes WriteImage's first
// pass keeps for the second, and returns a function that restores the
// default.
func SetWriterCacheBytes(n int) (restore func()) {
	old := writerCacheBytes
	writerCacheBytes = n
	return func() { writerCacheBytes = old }
}
