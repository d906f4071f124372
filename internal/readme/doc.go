// Package readme holds no code. Its tests check the README and docs/ against
// the repository: the README's API snippet compiles exactly as written, and
// every command they give (go run/test/build/doc paths, the flags a go run
// program is given, scripts) names something that exists, so a renamed
// example or a dropped flag fails CI instead of a reader's first try.
package readme
