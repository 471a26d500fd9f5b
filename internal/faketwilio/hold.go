package faketwilio

// Hold makes the fake keep the answers to create requests (POST Messages.json and Calls.json)
// until Release: each request is accepted and recorded (Messages, Calls) as Twilio would,
// then waits unanswered. A test can so stop a sender after Twilio took its message but before
// it learnt so, the window in which a crash leaves the outcome unknown. A held request whose
// client goes away stays accepted, as on Twilio. Reads (GET) are never held.
func (s *Server) Hold() { s.door.Hold() }

// Release answers the held requests and stops holding.
func (s *Server) Release() { s.door.Release() }

// Held is how many accepted create requests wait for Release now.
func (s *Server) Held() int { return s.door.Held() }
