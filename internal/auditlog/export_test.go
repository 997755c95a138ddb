package auditlog

// NoResolve turns subject resolution off, for the benchmark that measures
// its cost.
func NoResolve(s *Service) { s.noResolve = true }
