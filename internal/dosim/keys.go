package dosim

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/digitalocean/godo"
	"golang.org/x/crypto/ssh"
)

type sshKey struct {
	godo.Key
}

type wireAccount struct {
	DropletLimit    int    `json:"droplet_limit"`
	FloatingIPLimit int    `json:"floating_ip_limit"`
	ReservedIPLimit int    `json:"reserved_ip_limit"`
	VolumeLimit     int    `json:"volume_limit"`
	Email           string `json:"email"`
	Name            string `json:"name"`
	UUID            string `json:"uuid"`
	EmailVerified   bool   `json:"email_verified"`
	Status          string `json:"status"`
	StatusMessage   string `json:"status_message"`
}

func (s *Server) getAccount(*http.Request) (int, any, error) {
	return http.StatusOK, map[string]any{"account": wireAccount{
		DropletLimit: 25, FloatingIPLimit: 3, ReservedIPLimit: 3, VolumeLimit: 100,
		Email: "sim@jhub.test", Name: "jhub simulator", UUID: "b6fr89dbf6d9156cace5f3c78dc9851d957381ef",
		EmailVerified: true, Status: "active",
	}}, nil
}

// Fingerprint is DigitalOcean's SSH key fingerprint: the colon-separated hex
// MD5 of the key blob.
func Fingerprint(publicKey string) (string, error) {
	pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(publicKey))
	if err != nil {
		return "", err
	}
	return ssh.FingerprintLegacyMD5(pk), nil
}

func (s *Server) sortedKeys() []godo.Key {
	out := make([]godo.Key, 0, len(s.keys))
	for _, k := range s.keys {
		out = append(out, k.Key)
	}
	slices.SortFunc(out, func(a, b godo.Key) int { return a.ID - b.ID })
	return out
}

func (s *Server) listKeys(r *http.Request) (int, any, error) {
	s.mu.Lock()
	all := s.sortedKeys()
	s.mu.Unlock()
	page, links, m := paginate(r, all)
	return http.StatusOK, map[string]any{"ssh_keys": page, "links": links, "meta": m}, nil
}

func (s *Server) createKey(r *http.Request) (int, any, error) {
	var req godo.KeyCreateRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	if strings.TrimSpace(req.Name) == "" {
		return 0, nil, unprocessable("Name can't be blank")
	}
	fp, err := Fingerprint(req.PublicKey)
	if err != nil {
		return 0, nil, unprocessable("Key invalid, key should be of the format `type key [comment]`")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range s.keys {
		if k.Fingerprint == fp {
			return 0, nil, unprocessable("SSH Key is already in use on your account")
		}
	}
	k := &sshKey{godo.Key{ID: s.next("key", 4_100_000), Name: req.Name, Fingerprint: fp, PublicKey: strings.TrimSpace(req.PublicKey)}}
	s.keys[k.ID] = k
	return http.StatusCreated, map[string]any{"ssh_key": k.Key}, nil
}

// findKey resolves an ID or fingerprint; the caller holds s.mu.
func (s *Server) findKey(ident string) *sshKey {
	if id, err := strconv.Atoi(ident); err == nil {
		return s.keys[id]
	}
	for _, k := range s.keys {
		if k.Fingerprint == ident {
			return k
		}
	}
	return nil
}

func (s *Server) getKey(r *http.Request) (int, any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.findKey(r.PathValue("key"))
	if k == nil {
		return 0, nil, notFound()
	}
	return http.StatusOK, map[string]any{"ssh_key": k.Key}, nil
}

func (s *Server) updateKey(r *http.Request) (int, any, error) {
	var req godo.KeyUpdateRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.findKey(r.PathValue("key"))
	if k == nil {
		return 0, nil, notFound()
	}
	if strings.TrimSpace(req.Name) != "" {
		k.Name = req.Name
	}
	return http.StatusOK, map[string]any{"ssh_key": k.Key}, nil
}

func (s *Server) deleteKey(r *http.Request) (int, any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.findKey(r.PathValue("key"))
	if k == nil {
		return 0, nil, notFound()
	}
	delete(s.keys, k.ID)
	return http.StatusNoContent, nil, nil
}

// SSHKeys lists the account's SSH keys by ID.
func (s *Server) SSHKeys() []godo.Key {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sortedKeys()
}
