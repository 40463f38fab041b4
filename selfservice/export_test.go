package selfservice

// The limits of render.go, for the tests of package selfservice_test.
const (
	MaxNodes     = maxNodes
	MaxGroups    = maxGroups
	MaxFields    = maxFields
	MaxPageBytes = maxPageBytes
)
