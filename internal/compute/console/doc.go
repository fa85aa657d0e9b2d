// Package console is Nimbus's VNC console proxy, upstream's nova-novncproxy (port 6080):
// it serves the noVNC client and relays a websocket to a guest's VNC server once a
// single-use console token has been consumed.
package console
