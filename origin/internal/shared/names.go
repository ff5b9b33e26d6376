package shared

// MaxNameLen bounds a file, input or channel path element.
const MaxNameLen = 128

// ValidName reports whether s is a safe path element: [A-Za-z0-9._-]{1,128}
// without a leading dot (so "." and ".." are impossible).
func ValidName(s string) bool {
	if len(s) == 0 || len(s) > MaxNameLen || s[0] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}
