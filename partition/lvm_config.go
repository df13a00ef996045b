package partition

import (
	"fmt"
	"strconv"
)

// LVM metadata is text in LVM's configuration syntax: sections
// (name { ... }), assignments (key = value), values that are numbers,
// "strings" or [lists], and # comments. This is a small parser for it.

// maxConfigDepth bounds the nesting of sections (LVM's metadata uses 5).
const maxConfigDepth = 32

// configSection is one section: its assignments and its subsections, in
// the order written.
type configSection struct {
	name     string
	values   map[string]configValue
	sections []*configSection
}

// configValue is a string, a number or a list of values.
type configValue struct {
	str   string
	num   int64
	isStr bool
	list  []configValue
}

func (s *configSection) section(name string) *configSection {
	for _, c := range s.sections {
		if c.name == name {
			return c
		}
	}
	return nil
}

func (s *configSection) str(key string) string {
	v := s.values[key]
	return v.str
}

func (s *configSection) num(key string) int64 {
	v := s.values[key]
	return v.num
}

func (s *configSection) strings(key string) []string {
	var out []string
	for _, v := range s.values[key].list {
		if v.isStr {
			out = append(out, v.str)
		}
	}
	return out
}

// configParser parses the text of one metadata copy.
type configParser struct {
	text []byte
	pos  int
}

// parseConfig parses text into its top-level section (named "").
func parseConfig(text []byte) (*configSection, error) {
	p := &configParser{text: text}
	root, err := p.body("", 0)
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.text) {
		return nil, p.errorf("unexpected '}'")
	}
	return root, nil
}

func (p *configParser) errorf(format string, args ...any) error {
	return fmt.Errorf("metadata text at byte %d: %s", p.pos, fmt.Sprintf(format, args...))
}

// skip passes white space, NUL bytes and comments.
func (p *configParser) skip() {
	for p.pos < len(p.text) {
		switch c := p.text[p.pos]; {
		case c == '#':
			for p.pos < len(p.text) && p.text[p.pos] != '\n' {
				p.pos++
			}
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == 0:
			p.pos++
		default:
			return
		}
	}
}

func isIdentByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-' || c == '+' || c == '/'
}

// body parses assignments and sections up to a '}' or the end.
func (p *configParser) body(name string, depth int) (*configSection, error) {
	if depth > maxConfigDepth {
		return nil, p.errorf("sections nested deeper than %d", maxConfigDepth)
	}
	s := &configSection{name: name, values: map[string]configValue{}}
	for {
		p.skip()
		if p.pos >= len(p.text) || p.text[p.pos] == '}' {
			return s, nil
		}
		start := p.pos
		for p.pos < len(p.text) && isIdentByte(p.text[p.pos]) {
			p.pos++
		}
		if p.pos == start {
			return nil, p.errorf("unexpected %q", p.text[p.pos])
		}
		key := string(p.text[start:p.pos])
		p.skip()
		if p.pos >= len(p.text) {
			return nil, p.errorf("%s: unexpected end", key)
		}
		switch p.text[p.pos] {
		case '{':
			p.pos++
			c, err := p.body(key, depth+1)
			if err != nil {
				return nil, err
			}
			if p.pos >= len(p.text) {
				return nil, p.errorf("section %s is not closed", key)
			}
			p.pos++ // '}'
			s.sections = append(s.sections, c)
		case '=':
			p.pos++
			v, err := p.value(depth)
			if err != nil {
				return nil, err
			}
			s.values[key] = v
		default:
			return nil, p.errorf("expected '{' or '=' after %s", key)
		}
	}
}

// value parses a string, a number or a list.
func (p *configParser) value(depth int) (configValue, error) {
	p.skip()
	if p.pos >= len(p.text) {
		return configValue{}, p.errorf("missing value")
	}
	switch c := p.text[p.pos]; {
	case c == '"':
		return p.quoted()
	case c == '[':
		if depth > maxConfigDepth {
			return configValue{}, p.errorf("lists nested deeper than %d", maxConfigDepth)
		}
		p.pos++
		var v configValue
		for {
			p.skip()
			if p.pos >= len(p.text) {
				return configValue{}, p.errorf("list is not closed")
			}
			if p.text[p.pos] == ']' {
				p.pos++
				return v, nil
			}
			if len(v.list) > 0 {
				if p.text[p.pos] != ',' {
					return configValue{}, p.errorf("expected ',' in list")
				}
				p.pos++
			}
			e, err := p.value(depth + 1)
			if err != nil {
				return configValue{}, err
			}
			v.list = append(v.list, e)
		}
	default:
		start := p.pos
		for p.pos < len(p.text) && (isIdentByte(p.text[p.pos])) {
			p.pos++
		}
		word := string(p.text[start:p.pos])
		n, err := strconv.ParseInt(word, 10, 64)
		if err != nil {
			if _, ferr := strconv.ParseFloat(word, 64); ferr != nil {
				return configValue{}, p.errorf("bad value %q", word)
			}
		}
		return configValue{num: n, str: word}, nil
	}
}

// quoted parses a "string" with backslash escapes.
func (p *configParser) quoted() (configValue, error) {
	p.pos++ // opening quote
	var b []byte
	for p.pos < len(p.text) {
		c := p.text[p.pos]
		p.pos++
		switch {
		case c == '"':
			return configValue{str: string(b), isStr: true}, nil
		case c == '\\' && p.pos < len(p.text):
			b = append(b, p.text[p.pos])
			p.pos++
		default:
			b = append(b, c)
		}
	}
	return configValue{}, p.errorf("string is not closed")
}
