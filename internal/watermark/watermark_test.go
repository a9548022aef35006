package watermark

import (
	"context"
	"sync"
	"testing"
	"time"
)

func TestWaitReturnsOnceReached(t *testing.T) {
	w := New(0)
	var wg sync.WaitGroup
	results := make([]bool, 8)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = w.Wait(context.Background(), int64(i+1), nil)
		}()
	}
	for v := int64(1); v <= 8; v++ {
		w.Advance(v)
	}
	wg.Wait()
	for i, ok := range results {
		if !ok {
			t.Errorf("waiter %d did not see its target", i)
		}
	}
	if w.Load() != 8 {
		t.Fatalf("Load = %d, want 8", w.Load())
	}
}

func TestAdvanceIgnoresLowerValues(t *testing.T) {
	w := New(10)
	w.Advance(5)
	if w.Load() != 10 {
		t.Fatalf("Load = %d after a lower advance, want 10", w.Load())
	}
	w.Reset(3)
	if w.Load() != 3 {
		t.Fatalf("Load = %d after Reset(3)", w.Load())
	}
}

func TestWaitStops(t *testing.T) {
	w := New(0)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if w.Wait(ctx, 1, nil) {
		t.Fatal("Wait reported success on an expired context")
	}
	abort := make(chan struct{})
	close(abort)
	if w.Wait(context.Background(), 1, abort) {
		t.Fatal("Wait reported success after abort")
	}
}

func TestSubscribe(t *testing.T) {
	w := New(0)
	ch := make(chan struct{}, 1)
	unsubscribe := w.Subscribe(ch)
	w.Advance(1)
	select {
	case <-ch:
	default:
		t.Fatal("no signal after Advance")
	}
	unsubscribe()
	w.Advance(2)
	select {
	case <-ch:
		t.Fatal("signal after unsubscribe")
	default:
	}
}
