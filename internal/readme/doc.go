// Package readme holds no code: its test checks that the README's API
// snippet compiles exactly as written.
package readme
