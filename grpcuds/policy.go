package grpcuds

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/udskit/uds"
)

// PeerCred returns the credentials of the client of the call in ctx, in a
// server handler or interceptor. It reports false when the connection was
// not made with the credentials of NewCredentials. (A client finds the
// server's credentials in the AuthInfo of the peer.Peer that the grpc.Peer
// call option fills: see the AuthInfo example.)
//
// The Cred is shared by every call on the connection: read it, do not
// modify or close it (the connection closes its PIDFD).
func PeerCred(ctx context.Context) (*uds.Cred, bool) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return nil, false
	}
	return credOf(p)
}

func credOf(p *peer.Peer) (*uds.Cred, bool) {
	switch ai := p.AuthInfo.(type) {
	case AuthInfo:
		return ai.Cred, ai.Cred != nil
	case *AuthInfo:
		if ai != nil && ai.Cred != nil {
			return ai.Cred, true
		}
	}
	return nil, false
}

// UnaryServerInterceptor returns a unary server interceptor that lets a
// call through only when policy accepts its caller's credentials. policy is
// one of the policies uds.ListenConfig.Authorize takes (uds.SameUser(),
// uds.AllowUIDs(0), ...) or any func(*uds.Cred) error; nil accepts every
// identified caller.
//
// A refused call fails with codes.PermissionDenied and the policy's error
// text; so does a call without credentials (the server was not given
// grpc.Creds(NewCredentials())), since its caller cannot be identified.
func UnaryServerInterceptor(policy func(*uds.Cred) error) grpc.UnaryServerInterceptor {
	u, _ := MethodInterceptors(func(string) func(*uds.Cred) error { return policy })
	return u
}

// StreamServerInterceptor is UnaryServerInterceptor for streaming calls.
func StreamServerInterceptor(policy func(*uds.Cred) error) grpc.StreamServerInterceptor {
	_, s := MethodInterceptors(func(string) func(*uds.Cred) error { return policy })
	return s
}

// MethodInterceptors returns unary and stream server interceptors that
// apply, to each call, the policy choose returns for the call's full method
// name ("/grpc.health.v1.Health/Check"). A nil policy accepts every
// identified caller; refusals are as in UnaryServerInterceptor.
//
//	unary, stream := grpcuds.MethodInterceptors(func(method string) func(*uds.Cred) error {
//		if method == "/app.Admin/Shutdown" {
//			return uds.AllowUIDs(0)
//		}
//		return uds.SameUser()
//	})
//	srv := grpc.NewServer(grpc.Creds(grpcuds.NewCredentials()),
//		grpc.ChainUnaryInterceptor(unary), grpc.ChainStreamInterceptor(stream))
func MethodInterceptors(choose func(fullMethod string) func(*uds.Cred) error) (grpc.UnaryServerInterceptor, grpc.StreamServerInterceptor) {
	unary := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if err := authorize(ctx, choose(info.FullMethod)); err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
	stream := func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if err := authorize(ss.Context(), choose(info.FullMethod)); err != nil {
			return err
		}
		return handler(srv, ss)
	}
	return unary, stream
}

// authorize applies policy to the credentials of the call in ctx.
func authorize(ctx context.Context, policy func(*uds.Cred) error) error {
	cred, ok := PeerCred(ctx)
	if !ok {
		return errNoCred
	}
	if policy == nil {
		return nil
	}
	if err := policy(cred); err != nil {
		return status.Error(codes.PermissionDenied, err.Error())
	}
	return nil
}

var errNoCred = status.Error(codes.PermissionDenied,
	"grpcuds: the caller's credentials are unknown (the server must be created with grpc.Creds(grpcuds.NewCredentials()) and listen on a Unix socket)")
