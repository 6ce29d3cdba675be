package appgen

import "errors"

func planNext(spec Spec) ([]Op, error) {
	return nil, errors.New("appgen: nextjs generator not written yet")
}
