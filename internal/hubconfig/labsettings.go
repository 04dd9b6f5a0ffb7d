package hubconfig

import (
	"encoding/json"
	"path"

	"github.com/classhub/terraform-provider-jhub/internal/ondroplet"
)

// labOverridesName is the release's JupyterLab settings defaults, linked
// from ondroplet.LabOverrides.
const labOverridesName = "lab_overrides.json"

// NotebookWindowingMode is the students' JupyterLab notebook windowing.
// Debian 13's JupyterLab 4.0.11 defaults to "defer", which attaches cells
// on idle callbacks; the notebook's table of contents then looks up the
// headings of a cell whose heading index it has not built yet and throws
// "Cannot read properties of undefined (reading 'type')" (toc.js
// getIdForHeading, uncaught in a promise) on every notebook with a
// markdown heading, Welcome.ipynb among them. "none" attaches every cell
// at once: no error, and a class's notebooks are short.
const NotebookWindowingMode = "none"

// labOverrides is the content of labOverridesName: JupyterLab plugin id →
// setting → default, merged under each student's own settings.
func labOverrides() []byte {
	b, err := json.MarshalIndent(map[string]map[string]any{
		"@jupyterlab/notebook-extension:tracker": {"windowingMode": NotebookWindowingMode},
	}, "", "  ")
	if err != nil {
		panic(err) // a fixed map of strings
	}
	return append(b, '\n')
}

// labOverridesLink are the hub unit's commands that point
// ondroplet.LabOverrides at the current release's file: the link follows
// the release switch (and a rollback) without copying.
func labOverridesLink(current string) []string {
	return []string{
		"ExecStartPre=/usr/bin/mkdir -p " + path.Dir(ondroplet.LabOverrides),
		"ExecStartPre=/usr/bin/ln -sfn " + path.Join(current, labOverridesName) + " " + ondroplet.LabOverrides,
	}
}
