package web

import "strconv"

// Status codes the package uses (RFC 9110 §15).
const (
	StatusContinue              = 100
	StatusOK                    = 200
	StatusCreated               = 201
	StatusNoContent             = 204
	StatusPartialContent        = 206
	StatusMovedPermanently      = 301
	StatusFound                 = 302
	StatusSeeOther              = 303
	StatusNotModified           = 304
	StatusBadRequest            = 400
	StatusUnauthorized          = 401
	StatusForbidden             = 403
	StatusNotFound              = 404
	StatusMethodNotAllowed      = 405
	StatusRequestTimeout        = 408
	StatusConflict              = 409
	StatusLengthRequired        = 411
	StatusPreconditionFailed    = 412
	StatusContentTooLarge       = 413
	StatusURITooLong            = 414
	StatusUnsupportedMediaType  = 415
	StatusRangeNotSatisfiable   = 416
	StatusExpectationFailed     = 417
	StatusHeaderFieldsTooLarge  = 431
	StatusInternalServerError   = 500
	StatusNotImplemented        = 501
	StatusBadGateway            = 502
	StatusServiceUnavailable    = 503
	StatusGatewayTimeout        = 504
	StatusVersionNotSupported   = 505
	StatusInsufficientStorage   = 507
	StatusNetworkAuthentication = 511
)

var statusText = map[int]string{
	100: "Continue",
	200: "OK",
	201: "Created",
	204: "No Content",
	206: "Partial Content",
	301: "Moved Permanently",
	302: "Found",
	303: "See Other",
	304: "Not Modified",
	400: "Bad Request",
	401: "Unauthorized",
	403: "Forbidden",
	404: "Not Found",
	405: "Method Not Allowed",
	408: "Request Timeout",
	409: "Conflict",
	411: "Length Required",
	412: "Precondition Failed",
	413: "Content Too Large",
	414: "URI Too Long",
	415: "Unsupported Media Type",
	416: "Range Not Satisfiable",
	417: "Expectation Failed",
	431: "Request Header Fields Too Large",
	500: "Internal Server Error",
	501: "Not Implemented",
	502: "Bad Gateway",
	503: "Service Unavailable",
	504: "Gateway Timeout",
	505: "HTTP Version Not Supported",
	507: "Insufficient Storage",
}

// StatusText returns the reason phrase of code, or "" when it is unknown.
func StatusText(code int) string { return statusText[code] }

// statusLines holds the pre-formatted "HTTP/1.1 200 OK\r\n" lines of the
// known codes, so that writing a status line costs no formatting.
var statusLines = func() map[int]string {
	m := make(map[int]string, len(statusText))
	for c, t := range statusText {
		m[c] = "HTTP/1.1 " + strconv.Itoa(c) + " " + t + "\r\n"
	}
	return m
}()

func appendStatusLine(b []byte, code int) []byte {
	if l, ok := statusLines[code]; ok {
		return append(b, l...)
	}
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(code), 10)
	return append(b, " Status\r\n"...)
}

// An Error is a request the server cannot accept, with the status code to
// answer it with and a reason for the log and the response body.
type Error struct {
	Status int
	Reason string
}

func (e *Error) Error() string {
	return "web: " + strconv.Itoa(e.Status) + " " + StatusText(e.Status) + ": " + e.Reason
}

func errorf(status int, reason string) *Error { return &Error{Status: status, Reason: reason} }
