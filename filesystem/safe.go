package filesystem

import (
	"fmt"
	"io"
)

// Guard calls f and turns a panic inside it (a third-party reader fed a
// damaged filesystem) into an error wrapping ErrLibraryPanic.
func Guard[T any](library string, f func() (T, error)) (v T, err error) {
	defer func() {
		if p := recover(); p != nil {
			var zero T
			v, err = zero, fmt.Errorf("%s: %w: %v", library, ErrLibraryPanic, p)
		}
	}()
	return f()
}

// GuardReaderAt wraps r so that a panic in its ReadAt becomes an error.
func GuardReaderAt(library string, r io.ReaderAt) io.ReaderAt {
	return guardedReaderAt{library, r}
}

type guardedReaderAt struct {
	library string
	r       io.ReaderAt
}

func (g guardedReaderAt) ReadAt(p []byte, off int64) (int, error) {
	type result struct {
		n   int
		err error
	}
	res, err := Guard(g.library, func() (result, error) {
		n, err := g.r.ReadAt(p, off)
		return result{n, err}, nil
	})
	if err != nil {
		return 0, err
	}
	return res.n, res.err
}
