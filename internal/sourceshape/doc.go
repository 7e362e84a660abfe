// Package sourceshape holds the test that keeps the source in the shape
// the README's Development section describes: a core whose exported
// functions take no HTTP request, few functions outside the HTTP handlers
// that read a request, no type with more than 150 methods, and no source
// file over 600 lines. It has no code of its own.
package sourceshape
