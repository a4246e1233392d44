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
// A server needs nothing from this package to serve: a *uds.Listener is a
// net.Listener, so http.Serve(ln, handler) or (*http.Server).Serve(ln)
// serve on it. To know who calls, Identify (or ConnContext and ConnState)
// makes the server read each connection's peer credentials from the kernel
// once, when it accepts the connection; handlers get them with PeerCred,
// and Require refuses requests by the same policies as
// uds.ListenConfig.Authorize (uds.SameUser, uds.AllowUIDs, uds.AllowGIDs),
// with 403 Forbidden and the reason. This works on *uds.Listener
// connections and on plain *net.UnixConn ones, and with unchanged clients
// (curl --unix-socket, any http.Client).
//
// It is a package of its own so that programs that use uds without HTTP do
// not link net/http.
package udshttp
