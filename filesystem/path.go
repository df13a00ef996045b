package filesystem

import "strings"

// SplitPath returns the names of a "/"-separated path from the root,
// without empty, "." and resolved ".." components. It fails with
// ErrWorkLimit beyond MaxDepth components.
func SplitPath(p string) ([]string, error) {
	var names []string
	for _, n := range strings.Split(p, "/") {
		switch n {
		case "", ".":
		case "..":
			if len(names) > 0 {
				names = names[:len(names)-1]
			}
		default:
			names = append(names, n)
		}
	}
	if len(names) > MaxDepth {
		return nil, &PathError{"resolve", p, ErrWorkLimit}
	}
	return names, nil
}

// JoinPath joins a directory path from the root and a name.
func JoinPath(dir, name string) string {
	if dir == "/" || dir == "" {
		return "/" + name
	}
	return dir + "/" + name
}
