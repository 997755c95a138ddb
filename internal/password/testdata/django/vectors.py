"""vectors.py writes Django PBKDF2 vectors without Django (PyPI is not
reachable from the machine that wrote them): PBKDF2PasswordHasher.encode in
django/contrib/auth/hashers.py is

    hash = pbkdf2(password, salt, iterations, digest=self.digest)
    hash = base64.b64encode(hash).decode("ascii").strip()
    return "%s$%d$%s$%s" % (self.algorithm, iterations, salt, hash)

where pbkdf2 is hashlib.pbkdf2_hmac(digest().name, force_bytes(password),
force_bytes(salt), iterations, dklen=None), i.e. UTF-8 bytes and the
digest's own length. This script does exactly that with the standard
library. Run once: python3 vectors.py > vectors.json
"""
import base64
import hashlib
import json

def encode(algorithm, password, salt, iterations):
    digest = {"pbkdf2_sha256": "sha256", "pbkdf2_sha1": "sha1"}[algorithm]
    assert salt and "$" not in salt
    h = hashlib.pbkdf2_hmac(digest, password.encode(), salt.encode(), iterations)
    return "%s$%d$%s$%s" % (algorithm, iterations, salt, base64.b64encode(h).decode("ascii").strip())

cases = [
    ("pbkdf2_sha256", "correct horse battery staple", "Q2mYzU0rsTpOu7xJbGwpUe", 1000000),
    ("pbkdf2_sha256", "Pässwörd ✓ 日本", "seasalt", 870000),
    ("pbkdf2_sha256", "password", "abc", 10000),
    ("pbkdf2_sha1", "correct horse battery staple", "Q2mYzU0rsTpOu7xJbGwpUe", 260000),
    ("pbkdf2_sha1", "lètmein", "seasalt", 20000),
]
print(json.dumps([{"password": p, "encoded": encode(a, p, s, i)} for a, p, s, i in cases], indent=2, ensure_ascii=False))
