package gen

import (
	"slices"

	"github.com/dave/jennifer/jen"
)

// lin is an integer expression Σ k·f₁·f₂… + c over Go identifiers, folded as
// it is built, so that emitted index arithmetic carries no zero terms or unit
// factors: the emitters build every offset with it.
type lin struct {
	t []term
	c int
}

type term struct {
	k int
	f []string // identifiers, multiplied
}

// num is the constant c.
func num(c int) lin { return lin{c: c} }

// sym is k·f₁·f₂…
func sym(k int, f ...string) lin {
	if k == 0 {
		return lin{}
	}
	return lin{t: []term{{k: k, f: f}}}
}

// plus returns a + b + …, merging terms with the same factors.
func (a lin) plus(bs ...lin) lin {
	out := lin{c: a.c, t: slices.Clone(a.t)}
	for _, b := range bs {
		out.c += b.c
	next:
		for _, bt := range b.t {
			for i := range out.t {
				if slices.Equal(out.t[i].f, bt.f) {
					out.t[i].k += bt.k
					continue next
				}
			}
			out.t = append(out.t, term{k: bt.k, f: bt.f})
		}
	}
	out.t = slices.DeleteFunc(out.t, func(t term) bool { return t.k == 0 })
	return out
}

// times multiplies by a constant.
func (a lin) times(k int) lin {
	out := lin{c: a.c * k}
	if k == 0 {
		return out
	}
	for _, t := range a.t {
		out.t = append(out.t, term{k: t.k * k, f: t.f})
	}
	return out
}

// timesSym multiplies by the identifier f.
func (a lin) timesSym(f string) lin {
	var out lin
	if a.c != 0 {
		out.t = append(out.t, term{k: a.c, f: []string{f}})
	}
	for _, t := range a.t {
		out.t = append(out.t, term{k: t.k, f: append(slices.Clone(t.f), f)})
	}
	return out
}

// isConst reports whether a has no identifier terms.
func (a lin) isConst() bool { return len(a.t) == 0 }

// code renders a as a Go expression.
func (a lin) code() *jen.Statement {
	var s *jen.Statement
	for _, t := range a.t {
		k := t.k
		if s != nil {
			if k < 0 {
				s.Op("-")
				k = -k
			} else {
				s.Op("+")
			}
		} else if k < 0 {
			s = jen.Op("-")
			k = -k
		}
		prod := jen.Id(t.f[0])
		for _, f := range t.f[1:] {
			prod.Op("*").Id(f)
		}
		if k != 1 {
			prod.Op("*").Lit(k)
		}
		if s == nil {
			s = prod
		} else {
			s.Add(prod)
		}
	}
	switch {
	case s == nil:
		return jen.Lit(a.c)
	case a.c > 0:
		s.Op("+").Lit(a.c)
	case a.c < 0:
		s.Op("-").Lit(-a.c)
	}
	return s
}
