package keto

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"
)

// FilterPermitted returns the objects of namespace on which subjectID has
// relation, in the order given (an object listed twice is returned twice
// and asked once). It answers the whole list or nothing: when Keto cannot
// answer for one object the result is nil and the error wraps
// ErrUnavailable (or is ctx's error), never a shorter list that looks
// complete. An empty namespace, relation, subject or object is
// ErrInvalidTuple and Keto is not asked.
//
// Keto v0.13 has no batch check, so each object is one check: decisions
// cached by Check answer first (and the answers FilterPermitted gets are
// cached for Check, under WithAllowTTL and WithDenyTTL), the rest are
// asked at most WithMaxConcurrentChecks at a time, sharing calls with
// concurrent checks of the same tuple. After the first failure no further
// check is started.
func (k *Client) FilterPermitted(ctx context.Context, namespace, relation, subjectID string, objects []string) ([]string, error) {
	if namespace == "" || relation == "" || subjectID == "" {
		return nil, fmt.Errorf("%w: namespace %q, relation %q, subject %q", ErrInvalidTuple, namespace, relation, subjectID)
	}
	for i, o := range objects {
		if o == "" {
			return nil, fmt.Errorf("%w: empty object at index %d", ErrInvalidTuple, i)
		}
	}
	gen := k.cache.gen.Load()
	now := time.Now()
	decided := make(map[string]bool, len(objects))
	var ask []string
	for _, o := range objects {
		if _, seen := decided[o]; seen {
			continue
		}
		t := Tuple{Namespace: namespace, Object: o, Relation: relation, SubjectID: subjectID}
		key := t.digest()
		allowed, ok := k.cache.get(&key, now)
		decided[o] = allowed
		if !ok {
			ask = append(ask, o)
		}
	}
	if len(ask) > 0 {
		answers := make([]bool, len(ask))
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(k.cfg.maxConcurrent)
		for i, o := range ask {
			if gctx.Err() != nil {
				break // a check failed, or the caller gave up: start no more
			}
			g.Go(func() error {
				if gctx.Err() != nil {
					return gctx.Err()
				}
				t := Tuple{Namespace: namespace, Object: o, Relation: relation, SubjectID: subjectID}
				allowed, err := k.fetch(gctx, t.digest(), gen, t)
				if err != nil {
					return fmt.Errorf("keto: FilterPermitted: object %q: %w", o, err)
				}
				answers[i] = allowed
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return nil, err
		}
		if err := ctx.Err(); err != nil { // the loop may have stopped early without a failed check
			return nil, fmt.Errorf("keto: FilterPermitted abandoned: %w", context.Cause(ctx))
		}
		for i, o := range ask {
			decided[o] = answers[i]
		}
	}
	permitted := make([]string, 0, len(objects))
	for _, o := range objects {
		if decided[o] {
			permitted = append(permitted, o)
		}
	}
	return permitted, nil
}

// ForgetObject drops the cached decisions about object of namespace, for
// any relation and subject: call it after writing or deleting tuples of
// that object. Checks in flight when it is called do not cache their
// answers, and checks started after it ask Keto.
func (k *Client) ForgetObject(namespace, object string) {
	key := k.cache.objectKey(namespace, object)
	k.cache.forget(func(d *decision) bool { return d.object == key })
}

// ForgetSubject drops the cached decisions about subjectID, for any object:
// call it after changing that subject's tuples (say, adding it to a group).
func (k *Client) ForgetSubject(subjectID string) {
	key := k.cache.subjectKey(subjectID)
	k.cache.forget(func(d *decision) bool { return d.subject == key })
}

// ForgetAll drops every cached decision: for a tuple change whose effect
// reaches other objects and subjects than its own (a group's membership
// that permits on many documents, an OPL change).
func (k *Client) ForgetAll() {
	k.cache.forget(func(*decision) bool { return true })
}
