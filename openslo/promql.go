package openslo

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// The PromQL that import understands is the small subset that names a
// counter and selects its series; slogate counts the events itself, so the
// range and the function only say "a counter" and are otherwise ignored:
//
//	query    := [ "sum" [by] "(" inner ")" [by] ]      one SLI, or one per value set of by
//	          | inner                                  (refused: one SLI per series)
//	by       := "by" "(" label { "," label } ")"
//	inner    := ("rate" | "increase") "(" selector "[" duration "]" ")"
//	          | selector
//	selector := metric [ "{" [ matcher { "," matcher } ] "}" ]
//	matcher  := label ( "=" | "!=" | "=~" | "!~" ) string
//
// Strings are PromQL strings in double, single or back quotes. Anything else
// (without, offset, arithmetic, other functions) is refused with a reason.

// query is a parsed SLI query.
type query struct {
	metric   string
	matchers []matcher // in query order
	// sum: the query aggregates with sum; by holds its labels (nil: one SLI).
	sum bool
	by  []string
}

// matcher is one label matcher; op is "=", "!=", "=~" or "!~".
type matcher struct {
	label, op, value string
}

func (m matcher) String() string { return m.label + m.op + strconv.Quote(m.value) }

// maxQueryLen bounds a query; a selector of a counter is short.
const maxQueryLen = 4096

// parseQuery parses s in the subset above.
func parseQuery(s string) (query, error) {
	var q query
	if len(s) > maxQueryLen {
		return q, fmt.Errorf("query too long: %d bytes, at most %d", len(s), maxQueryLen)
	}
	p := &qparser{s: s}
	if p.peekIdent() == "sum" {
		p.ident()
		q.sum = true
		if p.peekIdent() == "by" {
			q.by = p.byClause()
		} else if w := p.peekIdent(); w == "without" {
			return q, fmt.Errorf("sum without (...) is not supported: name the labels to keep with sum by (...)")
		}
		p.expect("(")
		p.inner(&q)
		p.expect(")")
		if p.peekIdent() == "by" {
			if q.by != nil {
				p.fail("by given twice")
			}
			q.by = p.byClause()
		}
	} else {
		p.inner(&q)
	}
	p.skip()
	if p.err == nil && p.i < len(p.s) {
		p.fail("unexpected %q", p.rest())
	}
	if p.err != nil {
		return q, p.err
	}
	if q.sum && q.by == nil {
		q.by = []string{}
	}
	return q, nil
}

type qparser struct {
	s   string
	i   int
	err error
}

func (p *qparser) fail(format string, args ...any) {
	if p.err == nil {
		p.err = fmt.Errorf("cannot parse query at offset %d: %s", p.i, fmt.Sprintf(format, args...))
	}
}

func (p *qparser) rest() string {
	r := p.s[p.i:]
	if len(r) > 20 {
		r = r[:20] + "..."
	}
	return r
}

func (p *qparser) skip() {
	for p.i < len(p.s) && strings.ContainsRune(" \t\r\n", rune(p.s[p.i])) {
		p.i++
	}
}

func isIdentByte(c byte, first bool) bool {
	return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || !first && c >= '0' && c <= '9'
}

func (p *qparser) peekIdent() string {
	if p.err != nil {
		return ""
	}
	p.skip()
	j := p.i
	for j < len(p.s) && isIdentByte(p.s[j], j == p.i) {
		j++
	}
	return p.s[p.i:j]
}

func (p *qparser) ident() string {
	id := p.peekIdent()
	if id == "" {
		p.fail("want a name, got %q", p.rest())
	}
	p.i += len(id)
	return id
}

func (p *qparser) expect(tok string) {
	if p.err != nil {
		return
	}
	p.skip()
	if !strings.HasPrefix(p.s[p.i:], tok) {
		p.fail("want %q, got %q", tok, p.rest())
		return
	}
	p.i += len(tok)
}

func (p *qparser) peek(tok string) bool {
	if p.err != nil {
		return false
	}
	p.skip()
	return strings.HasPrefix(p.s[p.i:], tok)
}

func (p *qparser) byClause() []string {
	p.ident() // by
	p.expect("(")
	by := []string{}
	for p.err == nil && !p.peek(")") {
		l := p.ident()
		if strings.Contains(l, ":") {
			p.fail("%q is not a label name", l)
		}
		if slices.Contains(by, l) {
			p.fail("label %s twice in by", l)
		}
		by = append(by, l)
		if !p.peek(",") {
			break
		}
		p.expect(",")
	}
	p.expect(")")
	return by
}

func (p *qparser) inner(q *query) {
	switch fn := p.peekIdent(); {
	case fn == "rate" || fn == "increase":
		save := p.i
		p.ident()
		if !p.peek("(") {
			// A metric named rate or increase.
			p.i = save
			p.selector(q)
			return
		}
		p.expect("(")
		p.selector(q)
		p.expect("[")
		for p.err == nil && p.i < len(p.s) && p.s[p.i] != ']' {
			p.i++
		}
		p.expect("]")
		p.expect(")")
	case fn == "sum" || fn == "avg" || fn == "count" || fn == "min" || fn == "max" || fn == "irate" || fn == "delta":
		p.fail("%s(...) is not supported here; want [sum [by (...)]] (rate|increase(metric{...}[5m]) | metric{...})", fn)
	default:
		p.selector(q)
	}
}

func (p *qparser) selector(q *query) {
	q.metric = p.ident()
	if p.err != nil {
		return
	}
	if !p.peek("{") {
		return
	}
	p.expect("{")
	for p.err == nil && !p.peek("}") {
		var m matcher
		m.label = p.ident()
		p.skip()
		for _, op := range [...]string{"=~", "!~", "!=", "="} {
			if strings.HasPrefix(p.s[p.i:], op) {
				m.op = op
				break
			}
		}
		if m.op == "" {
			p.fail("want one of = != =~ !~ after %s, got %q", m.label, p.rest())
			return
		}
		p.i += len(m.op)
		m.value = p.str()
		q.matchers = append(q.matchers, m)
		if !p.peek(",") {
			break
		}
		p.expect(",")
	}
	p.expect("}")
}

// str reads a PromQL string literal: "..." and '...' with Go escapes, or
// `...` raw.
func (p *qparser) str() string {
	if p.err != nil {
		return ""
	}
	p.skip()
	if p.i >= len(p.s) {
		p.fail("want a string")
		return ""
	}
	quote := p.s[p.i]
	if quote != '"' && quote != '\'' && quote != '`' {
		p.fail("want a quoted string, got %q", p.rest())
		return ""
	}
	j := p.i + 1
	for j < len(p.s) && p.s[j] != quote {
		if p.s[j] == '\\' && quote != '`' {
			j++
		}
		j++
	}
	if j >= len(p.s) {
		p.fail("unterminated string")
		return ""
	}
	lit := p.s[p.i : j+1]
	p.i = j + 1
	switch quote {
	case '`':
		return lit[1 : len(lit)-1]
	case '\'':
		// Go has no single-quoted strings: requote the body.
		lit = `"` + strings.ReplaceAll(strings.ReplaceAll(lit[1:len(lit)-1], `\'`, `'`), `"`, `\"`) + `"`
	}
	v, err := strconv.Unquote(lit)
	if err != nil {
		p.fail("invalid string %s", lit)
	}
	return v
}

// formatQuery writes q in the form parseQuery reads: sum by (...) (rate(...[5m])).
func formatQuery(q query) string {
	var b strings.Builder
	if q.sum {
		if len(q.by) > 0 {
			b.WriteString("sum by (" + strings.Join(q.by, ", ") + ") (")
		} else {
			b.WriteString("sum(")
		}
	}
	b.WriteString("rate(" + q.metric)
	if len(q.matchers) > 0 {
		b.WriteByte('{')
		for i, m := range q.matchers {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(m.String())
		}
		b.WriteByte('}')
	}
	b.WriteString("[5m])")
	if q.sum {
		b.WriteByte(')')
	}
	return b.String()
}
