// Package templates embeds alertgram's default message templates. They live
// at the repository's top level so operators find them, and a Go file here
// is needed because //go:embed cannot reach "..".
package templates

import "embed"

// FS holds the default *.tmpl files.
//
//go:embed *.tmpl
var FS embed.FS
