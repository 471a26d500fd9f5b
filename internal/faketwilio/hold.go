package faketwilio

import "net/http"

// Hold makes the fake keep the answers to create requests (POST Messages.json and Calls.json)
// until Release: each request is accepted and recorded (Messages, Calls) as Twilio would,
// then waits unanswered. A test can so stop a sender after Twilio took its message but before
// it learnt so, the window in which a crash leaves the outcome unknown. A held request whose
// client goes away stays accepted, as on Twilio. Reads (GET) are never held.
func (s *Server) Hold() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gate == nil {
		s.gate = make(chan struct{})
	}
}

// Release answers the held requests and stops holding.
func (s *Server) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gate != nil {
		close(s.gate)
		s.gate = nil
	}
}

// Held is how many accepted create requests wait for Release now.
func (s *Server) Held() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.held
}

// hold waits while the gate is closed, or until r's client goes away.
func (s *Server) hold(r *http.Request) {
	s.mu.Lock()
	gate := s.gate
	if gate != nil {
		s.held++
	}
	s.mu.Unlock()
	if gate == nil {
		return
	}
	s.changes.Notify()
	defer func() {
		s.mu.Lock()
		s.held--
		s.mu.Unlock()
		s.changes.Notify()
	}()
	select {
	case <-gate:
	case <-r.Context().Done():
	}
}
