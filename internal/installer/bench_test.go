package installer

import (
	"context"
	"crypto/rand"
	"fmt"
	"testing"
)

// BenchmarkInstallEdgeBinary is one changed release per iteration with a
// 20 MiB binary (the size of a static jhub-edge build) through the real
// sshd: stage, validate, switch, reload, prune. The first install (outside
// the timer) sends the binary; later ones copy it on the host.
func BenchmarkInstallEdgeBinary(b *testing.B) {
	h := newHost(b)
	h.start()
	c, err := Dial(context.Background(), h.target())
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	c.Root = h.Root
	bin := make([]byte, 20<<20)
	rand.Read(bin)
	hb := hub{owner: "root", edge: "listen: :443\n", config: "c = 1\n", secret: randomSecret()}
	install := func(i int) Result {
		hb.edge = fmt.Sprintf("listen: :443\n# %d\n", i)
		r := hb.release()
		r.Files[0].Content = bin
		res, err := c.Install(context.Background(), r)
		if err != nil || !res.Changed {
			b.Fatalf("%+v %v", res, err)
		}
		return res
	}
	install(-1)
	var sent int64
	b.ResetTimer()
	for i := range b.N {
		sent += install(i).SentBytes
	}
	b.ReportMetric(float64(sent)/float64(b.N), "sent-B/op")
}
