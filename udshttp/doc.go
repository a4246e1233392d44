// Package udshttp speaks HTTP over Unix domain sockets opened with package
// uds.
//
// Client and Transport send every request to one socket, whatever host the
// request's URL names: the host (http://unix/status, http://api/v1, ...)
// only goes out in the Host header and keys the transport's pool of idle
// connections, while every connection is dialed to the socket with a
// uds.Dialer. So the socket's address never has to be written into a URL,
// and a path, an abstract name or the name the kernel chose for an autobind
// listener are reached alike.
//
// The server side needs nothing from this package: a *uds.Listener is a
// net.Listener, so http.Serve(ln, handler) or (*http.Server).Serve(ln)
// serve on it.
//
// It is a package of its own so that programs that use uds without HTTP do
// not link net/http.
package udshttp
