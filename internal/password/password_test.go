package password

import (
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestCheck(t *testing.T) {
	h, err := Hash("s3cret", bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if !Check(h, "s3cret", 0) || Check(h, "guess", 0) || Check("", "s3cret", bcrypt.MinCost) || Check("not a hash", "", bcrypt.MinCost) {
		t.Error("Check gives the wrong answers")
	}
	if c := Cost(h); c != bcrypt.MinCost {
		t.Errorf("Cost = %d", c)
	}
}

// TestDecoyCost: an unknown user is compared with a hash of the users'
// cost, so that it costs what a wrong password costs (bcrypt's time grows
// with the cost stored in the hash).
func TestDecoyCost(t *testing.T) {
	h5, _ := Hash("a", 5)
	h6, _ := Hash("b", 6)
	if c := DecoyCost(map[string]string{"a": h5, "b": h6}); c != 6 {
		t.Errorf("DecoyCost = %d, want 6", c)
	}
	if c := DecoyCost(map[string][]byte{}); c != 0 {
		t.Errorf("DecoyCost of none = %d, want 0", c)
	}
	for _, cost := range []int{5, 6} {
		if c, err := bcrypt.Cost(Decoy(cost)); err != nil || c != cost {
			t.Errorf("Decoy(%d) has cost %d, %v", cost, c, err)
		}
	}
	if c, _ := bcrypt.Cost(Decoy(0)); c != bcrypt.DefaultCost {
		t.Errorf("Decoy(0) has cost %d, want the default %d", c, bcrypt.DefaultCost)
	}
}
