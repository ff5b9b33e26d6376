// Package outputtest is the contract test suite every output passes: one
// set of tests run against each backend, in the style of litestream's
// replica client tests. A backend test calls Run with a constructor that
// returns a fresh output and a Reader that reads back what it stored.
package outputtest
