package scheduler

import "testing"

func TestMatchExtraSpec(t *testing.T) {
	tests := []struct {
		value, req string
		want       bool
	}{
		// No operator: the whole requirement must equal the value.
		{"1", "1", true},
		{"1", "2", false},
		{"True", "True", true},
		{"x86_64", "x86_64 ", false},
		{"", "", true},
		// "=" is at least, numerically.
		{"123", "= 123", true},
		{"124", "= 123", true},
		{"122", "= 123", false},
		{"123.0", "= 123", true},
		{"abc", "= 123", false},
		{"123", "=", false},
		// Numeric equality and order.
		{"123", "== 123", true},
		{"123.0", "== 123", true},
		{"124", "== 123", false},
		{"124", "!= 123", true},
		{"123", "!= 123", false},
		{"123", ">= 123", true},
		{"122", ">= 123", false},
		{"123", "<= 123", true},
		{"124", "<= 123", false},
		// String comparisons.
		{"123", "s== 123", true},
		{"123.0", "s== 123", false},
		{"1234", "s!= 123", true},
		{"123", "s!= 123", false},
		{"12", "s< 123", true},
		{"9", "s< 123", false}, // strings: "9" > "123"
		{"123", "s<= 123", true},
		{"124", "s> 123", true},
		{"123", "s> 123", false},
		{"123", "s>= 123", true},
		{"122", "s>= 123", false},
		// Substrings.
		{"12311321", "<in> 11", true},
		{"12311321", "<in> 12311321", true},
		{"12311321", "<in> 1222", false},
		{"12311321", "<in>", false},
		{"sse sse2 avx", "<all-in> sse avx", true},
		{"sse sse2", "<all-in> sse avx", false},
		{"sse", "<all-in>", false},
		// <or>: the value equals one of the alternatives.
		{"12", "<or> 11 <or> 12", true},
		{"13", "<or> 11 <or> 12", false},
		{"11", "<or> 11", true},
		{"12", "<or> 11 12", false}, // 12 is read as the keyword slot
		{"12", "<or> 11 <or> 12 <or>", true},
		{"11", "<or>", false},
	}
	for _, tt := range tests {
		if got := MatchExtraSpec(tt.value, tt.req); got != tt.want {
			t.Errorf("MatchExtraSpec(%q, %q) = %v, want %v", tt.value, tt.req, got, tt.want)
		}
	}
}
