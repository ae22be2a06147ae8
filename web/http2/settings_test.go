package http2

import (
	"bufio"
	"io"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/applayer/applayer/web"
)

// TestSettingsTimeout: a client that never acknowledges our SETTINGS gets
// GOAWAY SETTINGS_TIMEOUT once SettingsTimeout has passed (in a synctest
// bubble, on an in-memory connection: no real time passes).
func TestSettingsTimeout(t *testing.T) {
	for _, ackIt := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			client, server := net.Pipe()
			s := &Server{Handler: web.HandlerFunc(web.NotFound), Logger: quietLogger(), SettingsTimeout: 5 * time.Second, IdleTimeout: time.Hour}
			done := make(chan struct{})
			go func() {
				s.ServeHandoff(&web.Handoff{Conn: server})
				close(done)
			}()
			br := bufio.NewReader(client)
			go func() {
				client.Write([]byte(ClientPreface))
				b := AppendSettings(nil)
				if ackIt {
					b = AppendFrameHeader(b, 0, FrameSettings, FlagAck, 0)
				}
				client.Write(b)
			}()
			got := make(chan ErrCode, 1)
			go func() {
				var hdr [FrameHeaderLen]byte
				for {
					f, err := ReadFrame(br, &hdr, nil, MaxMaxFrameSize)
					if err != nil {
						return
					}
					if f.Type == FrameGoAway {
						g, _ := ParseGoAway(f)
						got <- g.Code
						io.Copy(io.Discard, br)
						return
					}
				}
			}()
			time.Sleep(4 * time.Second)
			synctest.Wait()
			select {
			case code := <-got:
				t.Fatalf("GOAWAY %v before the timeout", code)
			default:
			}
			time.Sleep(2 * time.Second)
			synctest.Wait()
			select {
			case code := <-got:
				if ackIt || code != ErrCodeSettingsTimeout {
					t.Errorf("acknowledged %v: GOAWAY %v", ackIt, code)
				}
			default:
				if !ackIt {
					t.Error("no GOAWAY SETTINGS_TIMEOUT after the timeout")
				}
			}
			client.Close()
			<-done
		})
	}
}
