// Package conformance holds the template conformance test (conformance_test.go): each
// template rendered, installed, tested, linted and built as MGX builds it, then run on the
// process runtime of an in-process `mgx up` (package platform: embedded FerretDB and Redis,
// the embedded gateway, the OAuth provider, the OTLP receiver) and walked through as a
// browser would. It takes minutes and runs only with MGX_TEST_TEMPLATES=1; CI runs it with
// scripts/templates-conformance.sh.
//
// It lives apart from package templates so that the templates' own tests stay quick to
// build: this one links the whole platform.
package conformance
