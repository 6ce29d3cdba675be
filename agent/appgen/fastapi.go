package appgen

import "errors"

func planFastAPI(spec Spec) ([]Op, error) {
	return nil, errors.New("appgen: fastapi-react generator not written yet")
}
