package hubconfig

import _ "embed"

// The release's Python helpers, shipped verbatim.
var (
	//go:embed files/idle_culler.py
	idleCullerPy []byte
	//go:embed files/check_hub.py
	checkHubPy []byte
	//go:embed files/jhub_hub.py
	hubClassesPy []byte
	//go:embed files/seed_course.py
	seedCoursePy []byte
	//go:embed files/jhub_gitpull.py
	gitPullPy []byte
)
