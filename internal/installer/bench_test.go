package installer

import (
	"context"
	"crypto/rand"
	"fmt"
	"testing"
)

// BenchmarkInstallEdgeBinary is one changed release per iteration carrying
// a 20 MiB binary (the size of a static jhub-edge build) through the real
// sshd: stage (tar over stdin), validate, switch, reload, prune.
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
	b.SetBytes(int64(len(bin)))
	b.ResetTimer()
	for i := range b.N {
		hb.edge = fmt.Sprintf("listen: :443\n# %d\n", i)
		r := hb.release()
		r.Files[0].Content = bin
		res, err := c.Install(context.Background(), r)
		if err != nil || !res.Changed {
			b.Fatalf("%+v %v", res, err)
		}
	}
}
