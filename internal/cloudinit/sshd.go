package cloudinit

// sshdAllowFile admits SSH logins only for the admin user. Every student
// gets a Linux account on the droplet (the hub creates it) and could put a
// key in ~/.ssh/authorized_keys; without this, that key would log them in
// outside the hub's limits. A drop-in of its own, next to sshdDropIn, so
// the fixed template stays free of user input.
const sshdAllowFile = "/etc/ssh/sshd_config.d/11-jhub-allow-users.conf"

// sshdAllowUsers is the write_files entry for sshdAllowFile. AdminUser is
// validated (userName), so it needs no quoting in sshd_config.
func (c Config) sshdAllowUsers() map[string]any {
	return map[string]any{
		"path":        sshdAllowFile,
		"owner":       "root:root",
		"permissions": "0644",
		"content":     "# Written by the jhub cloud-init payload: only the admin logs in over SSH,\n# never a student of the hub.\nAllowUsers " + c.AdminUser + "\n",
	}
}
