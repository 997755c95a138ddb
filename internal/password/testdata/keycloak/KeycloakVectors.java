// KeycloakVectors writes PBKDF2 vectors the way Keycloak's
// Pbkdf2PasswordHashProvider (org.keycloak.credential.hash) computes them:
// SecretKeyFactory.getInstance("PBKDF2WithHmacSHA256" or "...SHA512" or
// "...SHA1") over new PBEKeySpec(password.toCharArray(), salt, iterations,
// derivedKeySize), the key and the salt each base64 (java.util.Base64, with
// padding) as Keycloak stores them in secretData. derivedKeySize is 512 bits,
// Keycloak's DEFAULT_DERIVED_KEY_SIZE; 256 bits is there too because
// Keycloak verifies at the length of the stored value.
//
// Run once: javac KeycloakVectors.java && java KeycloakVectors > vectors.json
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.PBEKeySpec;

public class KeycloakVectors {
    public static void main(String[] args) throws Exception {
        String[][] cases = {
            // algorithm, JCA name, password, salt (UTF-8 text), iterations, bits
            {"pbkdf2-sha256", "PBKDF2WithHmacSHA256", "correct horse battery staple", "0123456789abcdef", "27500", "512"},
            {"pbkdf2-sha256", "PBKDF2WithHmacSHA256", "Pässwörd ✓ 日本", "saltsaltsaltsalt", "1000", "512"},
            {"pbkdf2-sha256", "PBKDF2WithHmacSHA256", "password", "NaCl-16-bytes-!!", "600000", "256"},
            {"pbkdf2-sha512", "PBKDF2WithHmacSHA512", "correct horse battery staple", "0123456789abcdef", "210000", "512"},
            {"pbkdf2-sha512", "PBKDF2WithHmacSHA512", "Pässwörd ✓ 日本", "saltsaltsaltsalt", "1000", "512"},
            {"pbkdf2", "PBKDF2WithHmacSHA1", "correct horse battery staple", "0123456789abcdef", "20000", "512"},
        };
        System.out.println("[");
        for (int i = 0; i < cases.length; i++) {
            String[] c = cases[i];
            byte[] salt = c[3].getBytes(StandardCharsets.UTF_8);
            int iterations = Integer.parseInt(c[4]);
            int bits = Integer.parseInt(c[5]);
            PBEKeySpec spec = new PBEKeySpec(c[2].toCharArray(), salt, iterations, bits);
            byte[] key = SecretKeyFactory.getInstance(c[1]).generateSecret(spec).getEncoded();
            System.out.printf("  {\"algorithm\": \"%s\", \"password\": \"%s\", \"salt\": \"%s\", \"hashIterations\": %d, \"value\": \"%s\"}%s%n",
                c[0], c[2], Base64.getEncoder().encodeToString(salt), iterations,
                Base64.getEncoder().encodeToString(key), i + 1 < cases.length ? "," : "");
        }
        System.out.println("]");
    }
}
