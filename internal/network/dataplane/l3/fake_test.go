package l3

import "github.com/nimbus-cloud/nimbus/internal/network/dataplane/dataplanetest"

type fakeRunner = dataplanetest.FakeRunner
