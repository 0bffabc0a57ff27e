package tgmarkup

import "math"

const splittableKinds = 5

// splittableOrder is the order split_entities flushes kinds in.
var splittableOrder = [splittableKinds]kind{kindBold, kindItalic, kindUnderline, kindStrikethrough, kindSpoiler}

// areEntitiesValid is are_entities_valid: the sorted entities already nest
// the way Telegram requires, so fix_entities has nothing to do.
func areEntitiesValid(es []entity) bool {
	var endPos [splittableKinds]int
	for i := range endPos {
		endPos[i] = -1
	}
	var stack []entity
	mask := 0
	for _, e := range es {
		for len(stack) > 0 && e.offset >= stack[len(stack)-1].end() {
			mask -= stack[len(stack)-1].kind.mask()
			stack = stack[:len(stack)-1]
		}
		if len(stack) > 0 && !nestsIn(e, stack[len(stack)-1], mask) {
			return false
		}
		if e.kind.splittable() {
			idx := e.kind.splittableIndex()
			if endPos[idx] >= e.offset {
				return false // could be merged with the previous one
			}
			endPos[idx] = e.end()
		}
		stack = append(stack, e)
		mask += e.kind.mask()
	}
	return true
}

// nestsIn checks e against its innermost enclosing entity parent and the
// kinds (mask) of all enclosing entities.
func nestsIn(e, parent entity, mask int) bool {
	switch {
	case e.end() > parent.end(): // intersects
		return false
	case mask&e.kind.mask() != 0: // same kind nested
		return false
	case parent.kind.pre(): // pre and code contain nothing
		return false
	case e.kind.pre() && mask&^blockquoteMask != 0: // pre only inside quotes
		return false
	case (e.kind.continuous() || e.kind.blockquote()) && mask&continuousMask != 0:
		return false
	case e.kind.blockquote() && mask&blockquoteMask != 0:
		return false
	}
	// A splittable parent might need splitting for consistency.
	return mask&splittableMask == 0
}

// splitter holds split_entities' per-kind open ranges.
type splitter struct {
	es         []entity
	next       int
	begin, end [splittableKinds]int
	result     []entity
}

// splitEntities is split_entities: it merges overlapping or adjacent
// splittable entities of one kind and splits them at the boundaries of the
// other entities, dropping the parts inside pre and code.
func splitEntities(es, others []entity) []entity {
	s := &splitter{es: es}
	var stack []entity
	addOffset := func(offset int) {
		for len(stack) > 0 && offset >= stack[len(stack)-1].end() {
			top := stack[len(stack)-1]
			kept := len(s.result)
			s.add(top.end())
			if top.kind.pre() {
				s.result = s.result[:kept]
			}
			stack = stack[:len(stack)-1]
		}
		s.add(offset)
	}
	for _, o := range others {
		addOffset(o.offset)
		stack = append(stack, o)
	}
	addOffset(math.MaxInt32)
	sortEntities(s.result)
	return s.result
}

// add consumes the entities that start before endOffset, then flushes
// everything up to it.
func (s *splitter) add(endOffset int) {
	for ; s.next < len(s.es) && s.es[s.next].offset < endOffset; s.next++ {
		e := s.es[s.next]
		idx := e.kind.splittableIndex()
		if e.offset <= s.end[idx] && s.end[idx] != 0 {
			s.end[idx] = max(s.end[idx], e.end())
			continue
		}
		s.flush(e.offset)
		s.begin[idx], s.end[idx] = e.offset, e.end()
	}
	s.flush(endOffset)
}

func (s *splitter) flush(offset int) {
	for _, k := range splittableOrder {
		idx := k.splittableIndex()
		if s.end[idx] == 0 || s.begin[idx] >= offset {
			continue
		}
		if s.end[idx] <= offset {
			s.result = append(s.result, entity{kind: k, offset: s.begin[idx], length: s.end[idx] - s.begin[idx]})
			s.begin[idx], s.end[idx] = 0, 0
			continue
		}
		s.result = append(s.result, entity{kind: k, offset: s.begin[idx], length: offset - s.begin[idx]})
		s.begin[idx] = offset
	}
}
