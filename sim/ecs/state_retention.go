package ecs

import "time"

// The fake forgets as ECS does: STOPPED tasks after StoppedTaskRetention,
// INACTIVE services (with their service deployments and revisions) after
// InactiveServiceRetention. Both wait in a queue in the order they stopped
// or became inactive, so that pruning looks only at what expires.

// queue is a first-in, first-out queue.
type queue[T any] struct {
	items []T
	head  int
}

// push adds v at the back.
func (q *queue[T]) push(v T) { q.items = append(q.items, v) }

// peek returns the front item; ok is false when the queue is empty.
func (q *queue[T]) peek() (v T, ok bool) {
	if q.head == len(q.items) {
		return v, false
	}
	return q.items[q.head], true
}

// pop removes the front item, releasing the space of those popped once
// they are half of the queue.
func (q *queue[T]) pop() {
	var zero T
	q.items[q.head] = zero
	q.head++
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	} else if q.head > len(q.items)/2 {
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
}

// len returns the number of items in the queue.
func (q *queue[T]) len() int { return len(q.items) - q.head }

// prune forgets the STOPPED tasks and INACTIVE services whose retention
// has passed. Callers hold f.mu.
func (f *Fake) prune(now time.Time) {
	taskAge := f.scaled(f.opts.StoppedTaskRetention)
	for t, ok := f.stoppedTasks.peek(); ok && now.Sub(t.stoppedAt) > taskAge; t, ok = f.stoppedTasks.peek() {
		f.stoppedTasks.pop()
		f.forgetTask(t)
	}
	serviceAge := f.scaled(f.opts.InactiveServiceRetention)
	for s, ok := f.inactiveServices.peek(); ok && now.Sub(s.inactiveAt) > serviceAge; s, ok = f.inactiveServices.peek() {
		f.inactiveServices.pop()
		f.forgetService(s)
	}
}

// forgetTask removes a STOPPED task from the cluster and its service.
// Callers hold f.mu.
func (f *Fake) forgetTask(t *task) {
	if t.cluster.tasks[t.id] == t {
		delete(t.cluster.tasks, t.id)
	}
	if s := t.service; s != nil {
		delete(s.tasks, t.id)
	}
}

// forgetService removes an INACTIVE service, its tasks, its service
// deployments and its revisions, unless it was created anew. Callers hold
// f.mu.
func (f *Fake) forgetService(s *service) {
	if s.status != serviceInactive {
		return
	}
	for _, t := range s.tasks {
		f.forgetTask(t)
	}
	for _, sd := range s.history {
		delete(f.serviceDeployments, sd.arn)
		for _, d := range append(sd.source, sd.target) {
			delete(f.revisions, d.revision.arn)
		}
	}
	if c := s.cluster; c.services[s.name] == s {
		delete(c.services, s.name)
	}
	delete(f.dirty, s)
}
