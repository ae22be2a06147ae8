package message

import (
	"encoding/base64"
	"io"
	"strings"
)

func base64Decoder(s string) io.Reader {
	return base64.NewDecoder(base64.StdEncoding, strings.NewReader(strings.NewReplacer("\r", "", "\n", "").Replace(s)))
}
