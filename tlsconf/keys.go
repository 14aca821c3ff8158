package tlsconf

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/youmark/pkcs8"
)

// LoadKeyPair reads a certificate chain and its private key as websockify's
// --cert and --key name them: certFile holds the PEM certificates (leaf
// first), and the key too when keyFile is "" (a combined PEM). The key may
// be PKCS#8, PKCS#1 (RSA) or SEC 1 (EC), and encrypted: PKCS#8 "ENCRYPTED
// PRIVATE KEY" (PBES2, as OpenSSL 3 writes them) or the legacy
// "Proc-Type: 4,ENCRYPTED" form, both opened with password
// (--key-password). Errors name the file, never the password.
func LoadKeyPair(certFile, keyFile, password string) (tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("read certificate: %w", err)
	}
	keyPEM, keyName := certPEM, certFile
	if keyFile != "" {
		if keyPEM, err = os.ReadFile(keyFile); err != nil {
			return tls.Certificate{}, fmt.Errorf("read key: %w", err)
		}
		keyName = keyFile
	}
	var chain [][]byte
	for rest := certPEM; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			chain = append(chain, b.Bytes)
		}
	}
	if len(chain) == 0 {
		return tls.Certificate{}, fmt.Errorf("%s: no PEM certificate in it", certFile)
	}
	key, err := privateKey(keyPEM, password)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s: %w", keyName, err)
	}
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s: %w", certFile, err)
	}
	pub, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	signer, isSigner := key.(crypto.Signer)
	if !ok || !isSigner || !pub.Equal(signer.Public()) {
		return tls.Certificate{}, fmt.Errorf("%s: the private key does not match the certificate in %s", keyName, certFile)
	}
	return tls.Certificate{Certificate: chain, PrivateKey: key, Leaf: leaf}, nil
}

// errNeedPassword says that a key is encrypted and no password was given.
var errNeedPassword = errors.New("the private key is encrypted: give its password (--key-password)")

// privateKey finds the first private key in a PEM file and opens it.
func privateKey(data []byte, password string) (crypto.PrivateKey, error) {
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			return nil, errors.New("no PEM private key in it")
		}
		switch b.Type {
		case "ENCRYPTED PRIVATE KEY":
			if password == "" {
				return nil, errNeedPassword
			}
			k, err := pkcs8.ParsePKCS8PrivateKey(b.Bytes, []byte(password))
			if err != nil {
				return nil, fmt.Errorf("open encrypted private key (wrong password?): %w", err)
			}
			return k, nil
		case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
			der := b.Bytes
			//lint:ignore SA1019 legacy encrypted PEM keys are what --key-password opens in websockify too; they are only read, never written
			if x509.IsEncryptedPEMBlock(b) {
				if password == "" {
					return nil, errNeedPassword
				}
				var err error
				//lint:ignore SA1019 see above
				if der, err = x509.DecryptPEMBlock(b, []byte(password)); err != nil {
					return nil, fmt.Errorf("open encrypted private key (wrong password?): %w", err)
				}
			}
			return parseKey(b.Type, der)
		}
	}
}

func parseKey(typ string, der []byte) (crypto.PrivateKey, error) {
	var k crypto.PrivateKey
	var err error
	switch typ {
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(der)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(der)
	default:
		k, err = x509.ParsePKCS8PrivateKey(der)
	}
	if err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	return k, nil
}

// LoadCAs reads a file of PEM CA certificates (websockify's --cafile).
func LoadCAs(file string) (*x509.CertPool, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s: no PEM certificate in it", file)
	}
	return pool, nil
}
