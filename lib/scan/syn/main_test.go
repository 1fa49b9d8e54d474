package syn_test

import (
	"testing"

	"github.com/picketscan/picket/internal/labnet"
)

func TestMain(m *testing.M) { labnet.Main(m) }
