package tgmarkup

import (
	"errors"
	"fmt"
	"net"
	"strings"
)

// httpURL is td::HttpUrl.
type httpURL struct {
	https         bool
	userinfo      string
	host          string
	ipv6          bool
	specifiedPort int
	query         string
}

// url is HttpUrl::get_url.
func (u httpURL) url() string {
	var b strings.Builder
	if u.https {
		b.WriteString("https://")
	} else {
		b.WriteString("http://")
	}
	if u.userinfo != "" {
		b.WriteString(u.userinfo + "@")
	}
	b.WriteString(u.host)
	if u.specifiedPort > 0 {
		fmt.Fprintf(&b, ":%d", u.specifiedPort)
	}
	b.WriteString(u.query)
	return b.String()
}

// parseURL is td::parse_url with the default protocol HTTP:
// [https?://][userinfo@]host[:port][/path?query#fragment]. Its errors are
// TDLib's texts, lower-cased: checkedLink only tells whether there is one,
// and none reaches a Bot API description.
func parseURL(s string) (httpURL, error) {
	var u httpURL
	rest := s
	if i := indexAnyOrLen(s, ":/?#@[]"); strings.HasPrefix(s[i:], "://") {
		switch toLowerASCII(s[:i]) {
		case "http":
		case "https":
			u.https = true
		default:
			return u, errors.New("unsupported URL protocol")
		}
		rest = s[i+3:]
	}
	i := indexAnyOrLen(rest, "/?#")
	userinfoHost, port, err := splitPort(rest[:i])
	if err != nil {
		return u, err
	}
	u.specifiedPort = port
	at := strings.LastIndexByte(userinfoHost, '@')
	if at >= 0 {
		u.userinfo = userinfoHost[:at]
	}
	host := userinfoHost[at+1:]
	if err := u.setHost(host); err != nil {
		return u, err
	}
	u.query = cleanQuery(rest[i:])
	return u, nil
}

func indexAnyOrLen(s, chars string) int {
	if i := strings.IndexAny(s, chars); i >= 0 {
		return i
	}
	return len(s)
}

// splitPort takes ":port" off the end unless the last ':' is inside an
// IPv6 literal or the userinfo.
func splitPort(s string) (string, int, error) {
	colon := len(s) - 1
	for colon > 0 && s[colon] != ':' && s[colon] != ']' && s[colon] != '@' {
		colon--
	}
	if colon <= 0 || s[colon] != ':' {
		return s, 0, nil
	}
	digits := s[colon+1:]
	for len(digits) > 1 && digits[0] == '0' {
		digits = digits[1:]
	}
	port, ok := toIntegerSafe(digits)
	if !ok || port <= 0 || port > 65535 {
		return "", 0, errors.New("wrong port number specified in the URL")
	}
	return s[:colon], int(port), nil
}

func (u *httpURL) setHost(host string) error {
	if host != "" && host[0] == '[' && host[len(host)-1] == ']' {
		ip := net.ParseIP(host[1 : len(host)-1])
		if ip == nil || !strings.Contains(host, ":") {
			return errors.New("wrong IPv6 address specified in the URL")
		}
		u.ipv6 = true
	}
	if host == "" {
		return errors.New("URL host is empty")
	}
	if host == "." {
		return errors.New("host is invalid")
	}
	u.host = toLowerASCII(host)
	return checkHost(u.host, u.ipv6)
}

// checkHost allows what RFC 7230 and RFC 3986 allow in a host, percent
// escapes, and raw UTF-8.
func checkHost(h string, ipv6 bool) error {
	for i := 0; i < len(h); i++ {
		c := h[i]
		if ipv6 {
			if i == 0 || i+1 == len(h) || c == ':' || isDigit(c) || 'a' <= c && c <= 'f' || c == '.' {
				continue
			}
			return errors.New("wrong IPv6 URL host")
		}
		switch {
		case 'a' <= c && c <= 'z', isDigit(c), strings.IndexByte(".-_!$,~*'();&+=", c) >= 0, c >= 128:
		case c == '%':
			if !isLowerHex(byteAt(h, i+1)) || !isLowerHex(byteAt(h, i+2)) {
				return errors.New("wrong percent-encoded symbol in URL host")
			}
			i += 2
		default:
			return errors.New("wrong URL host")
		}
	}
	return nil
}

func isLowerHex(c byte) bool { return isDigit(c) || 'a' <= c && c <= 'f' }

// cleanQuery trims trailing spaces, makes the path start with '/' and
// percent-encodes control characters and spaces.
func cleanQuery(q string) string {
	for q != "" && isSpace(q[len(q)-1]) {
		q = q[:len(q)-1]
	}
	if q == "" {
		q = "/"
	}
	var b strings.Builder
	if q[0] != '/' {
		b.WriteByte('/')
	}
	for i := 0; i < len(q); i++ {
		if c := q[i]; c <= 0x20 {
			fmt.Fprintf(&b, "%%%X%X", c/16, c%16)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// checkedLink is LinkManager::get_checked_link: the normalised URL, or
// false when check_link_impl refuses it. Plain HTTP(S) URLs need a dotted
// host (so http://localhost and http://prometheus:9090 are refused); tg:,
// ton: and tonsite: links are rebuilt from host and query.
func checkedLink(link string) (string, bool) {
	scheme := ""
	for _, s := range []string{"tg", "ton", "tonsite"} {
		if hasPrefixFold(link, s+":") {
			scheme, link = s, link[len(s)+1:]
			break
		}
	}
	if scheme != "" {
		link = strings.TrimPrefix(link, "//")
	}
	u, err := parseURL(link)
	if err != nil {
		return "", false
	}
	if scheme != "" {
		return internalLink(scheme, link, u)
	}
	if !strings.Contains(u.host, ".") && !u.ipv6 {
		return "", false // "Wrong HTTP URL"
	}
	return u.url(), true
}

func internalLink(scheme, link string, u httpURL) (string, bool) {
	if hasPrefixFold(link, "http://") || u.https || u.userinfo != "" || u.specifiedPort != 0 || u.ipv6 {
		return "", false // "Wrong tg URL"
	}
	query := u.query
	if len(query) > 1 && query[1] == '?' {
		query = query[1:]
	}
	for i := 0; i < len(u.host); i++ {
		if c := u.host[i]; !isAlnum(c) && c != '-' && c != '_' && !(scheme == "tonsite" && c == '.') { //nolint:staticcheck // QF1001: reads as the list of allowed characters, tonsite's '.' among them
			return "", false // "Unallowed characters in URL host"
		}
	}
	return scheme + "://" + u.host + query, true
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && toLowerASCII(s[:len(prefix)]) == prefix
}

// maxUserID is UserId::MAX_USER_ID.
const maxUserID = 1<<40 - 1

// linkUserID is LinkManager::get_link_user_id: tg://user?id=N mentions.
func linkUserID(url string) (int64, bool) {
	args, ok := tgLinkArgs(url, "user")
	if !ok {
		return 0, false
	}
	for _, arg := range args {
		if key, value, _ := strings.Cut(arg, "="); key == "id" {
			id, ok := toIntegerSafe(value)
			return id, ok && id > 0 && id <= maxUserID
		}
	}
	return 0, false
}

// tgLinkArgs lower-cases url and, if it is tg:[//]host[/]?args[#...],
// returns the '&'-separated args.
func tgLinkArgs(url, host string) ([]string, bool) {
	rest, ok := tgLinkQuery(url, host)
	if !ok || !strings.HasPrefix(rest, "?") {
		return nil, false
	}
	rest = rest[1:]
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		rest = rest[:i]
	}
	if rest == "" {
		return nil, true
	}
	return strings.Split(rest, "&"), true
}

// tgLinkQuery checks the tg:[//]host prefix and returns what follows the
// host and an optional '/'.
func tgLinkQuery(url, host string) (string, bool) {
	url = toLowerASCII(url)
	if !strings.HasPrefix(url, "tg:") {
		return "", false
	}
	url = strings.TrimPrefix(url[3:], "//")
	if !strings.HasPrefix(url, host) || len(url) > len(host) && !strings.ContainsRune("/?#", rune(url[len(host)])) {
		return "", false
	}
	return strings.TrimPrefix(url[len(host):], "/"), true
}

// linkCustomEmojiID is LinkManager::get_link_custom_emoji_id.
func linkCustomEmojiID(url string) (int64, error) {
	if !strings.HasPrefix(toLowerASCII(url), "tg:") {
		return 0, parseError("Custom emoji URL must have scheme tg")
	}
	if _, ok := tgLinkQuery(url, "emoji"); !ok {
		return 0, parseError(`Custom emoji URL must have host "emoji"`)
	}
	args, ok := tgLinkArgs(url, "emoji")
	if !ok {
		return 0, parseError("Custom emoji URL must have an emoji identifier")
	}
	for _, arg := range args {
		if key, value, _ := strings.Cut(arg, "="); key == "id" {
			id, ok := toIntegerSafe(value)
			if !ok || id == 0 {
				return 0, parseError("Invalid custom emoji identifier specified")
			}
			return id, nil
		}
	}
	return 0, parseError("Custom emoji URL must have an emoji identifier")
}
