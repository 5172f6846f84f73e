#!/usr/bin/env bash
# Java (OpenJDK 17's SunPKCS11 provider) against Keyward, configured with
# the shipped examples/java/keyward.cfg: keytool generates an EC and an RSA
# key pair *in the token* with self-signed certificates stored next to them,
# lists them as PrivateKeyEntry, makes certificate requests signed by the
# token keys (checked by OpenSSL) and installs a CA's reply; pkcs11-tool
# sees the objects; jarsigner signs a jar with a token key; a Java program
# signs (ECDSA, RSA PKCS#1, RSA-PSS), derives (ECDH) and serves TLS 1.3 and
# 1.2 on loopback with the token keys, verified by the JDK's software
# providers. Both ways of naming the slot (`slot`, `slotListIndex`) and the
# three ways of registering the provider are exercised, and slot ids are
# checked to stay put when slots are added and tokens re-initialized.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
# javac: the program below runs through the JDK's source launcher
# (`java File.java`), which needs the compiler (openjdk-17-jdk-headless).
require java keytool javac jar jarsigner openssl pkcs11-tool

# keytool asks for missing passwords on the terminal; never wait for one.
exec </dev/null
# OpenSSL here only checks signatures in software: no system config (which
# may load pkcs11-provider) gets in the way.
export OPENSSL_CONF=/dev/null

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PROVIDER=SunPKCS11-Keyward
EC_ID=65632d6a617661      # CKA_ID = the alias "ec-java" in bytes (SunPKCS11's choice)
RSA_ID=7273612d6a617661   # "rsa-java"

# The shipped configuration with only the library path changed: slot = 0.
CFG="$WORK/keyward.cfg"
sed "s|^library = .*|library = $MODULE|" "$ROOT/examples/java/keyward.cfg" > "$CFG"
# The same slot named by its position in C_GetSlotList instead.
CFG_INDEX="$WORK/keyward-index.cfg"
sed 's/^slot = 0$/slotListIndex = 0/' "$CFG" > "$CFG_INDEX"
# The shipped ECDH block, uncommented as the example tells users to.
CFG_ECDH="$WORK/keyward-ecdh.cfg"
sed '/^# attributes(generate/,/^# }/ s/^# //' "$CFG" > "$CFG_ECDH"
if ! grep -q '^slot = 0$' "$CFG" || ! grep -q '^slotListIndex = 0$' "$CFG_INDEX" ||
    ! grep -q '^attributes(generate, CKO_SECRET_KEY, CKK_GENERIC_SECRET) = {$' "$CFG_ECDH"; then
    echo "-- FAILED: examples/java/keyward.cfg no longer has the lines this script edits"
    exit 1
fi

# keytool on the PKCS11 keystore; the configuration file comes next
# (after -providerArg). The PIN is the keystore password, read from the
# environment (:env) so it is not on the command line.
export KEYWARD_PIN="$USER_PIN"
KT=(keytool -keystore NONE -storetype PKCS11 -storepass:env KEYWARD_PIN
    -providerClass sun.security.pkcs11.SunPKCS11 -providerArg)
P11=(pkcs11-tool --module "$MODULE" --login --pin "$USER_PIN")

# refuse DESCRIPTION PATTERN -- COMMAND...: COMMAND must fail, and its output
# must match PATTERN (so it fails for the reason we expect, not any reason).
refuse() {
    local desc="$1" pattern="$2"
    shift 2
    [ "$1" = "--" ] && shift
    printf '\n== %s\n$ %s\n' "$desc" "$*"
    local out rc=0
    out="$(timeout 120 "$@" 2>&1)" || rc=$?
    printf '%s\n' "$out" | tail -n 20
    if [ "$rc" -eq 0 ] || ! grep -Eq -- "$pattern" <<<"$out"; then
        printf -- '-- FAILED (exit %s, wanted a failure matching /%s/): %s\n' "$rc" "$pattern" "$desc"
        exit 1
    fi
    printf -- '-- ok (refused as expected)\n'
}

# reject_output PATTERN: the last step's output must NOT match (grep -E).
reject_output() {
    if grep -Eq -- "$1" <<<"$LAST_OUTPUT"; then
        printf -- '-- FAILED: output matches /%s/\n' "$1"
        exit 1
    fi
}

# calls: the key-making calls among the last step's KEYWARD_TRACE lines
# (the step itself shows only the tail of its output).
calls() {
    grep -E "^keyward: C_(GenerateKeyPair|Sign[A-Za-z]*|CopyObject|CreateObject|DestroyObject) " \
        <<<"$LAST_OUTPUT" || true
}

# expect_object ID PATTERN: among the objects of the last `pkcs11-tool -O`
# listing whose CKA_ID is ID (each object flattened to one line, fields
# separated by " |"), one must match PATTERN.
expect_object() {
    local objects
    objects="$(awk '/^[^ ]/ { if (o != "") print o; o = $0; next }
                    { o = o " |" $0 }
                    END { if (o != "") print o }' <<<"$LAST_OUTPUT" |
        grep -E "ID: +$1( |\$)" || true)"
    if ! grep -Eq -- "$2" <<<"$objects"; then
        printf -- '-- FAILED: no object with CKA_ID %s matches /%s/; objects with that id:\n%s\n' \
            "$1" "$2" "$objects"
        exit 1
    fi
}

init_token "Keyward Java"

# --- the provider and the login --------------------------------------------

step "keytool opens the empty token (slot = 0)" -- "${KT[@]}" "$CFG" -list
expect_output "Keystore provider: $PROVIDER"
expect_output "Your keystore contains 0 entries"
# -v makes keytool print the cause; the PIN is Keyward's user PIN.
refuse "a wrong PIN is refused" "CKR_PIN_INCORRECT" -- \
    keytool -keystore NONE -storetype PKCS11 -providerClass sun.security.pkcs11.SunPKCS11 \
    -providerArg "$CFG" -storepass 0000 -list -v

# --- key pairs generated in the token ----------------------------------------

# -providerName makes keytool generate the pair with SunPKCS11 (in the
# token, C_GenerateKeyPair) and sign the certificate with it (C_Sign*);
# SunPKCS11 then copies the private key to a token object (C_CopyObject,
# CKA_ID = alias) and stores the certificate (C_CreateObject). The trace
# shows each call.
step "EC P-256 key pair and self-signed certificate in the token" -- \
    env KEYWARD_TRACE=1 "${KT[@]}" "$CFG" \
    -providerName "$PROVIDER" -genkeypair -alias ec-java -keyalg EC -groupname secp256r1 \
    -dname "CN=java-ec,O=Keyward interop" -validity 2
expect_output "C_GenerateKeyPair -> CKR_OK"
calls
expect_output "C_SignFinal -> CKR_OK"
expect_output "C_CopyObject -> CKR_OK"
expect_output "C_CreateObject -> CKR_OK"
step "RSA-2048 key pair and self-signed certificate in the token" -- \
    env KEYWARD_TRACE=1 "${KT[@]}" "$CFG" \
    -providerName "$PROVIDER" -genkeypair -alias rsa-java -keyalg RSA -keysize 2048 \
    -dname "CN=java-rsa,O=Keyward interop" -validity 2
calls
expect_output "C_GenerateKeyPair -> CKR_OK"
expect_output "C_CopyObject -> CKR_OK"

# Without -providerName keytool picks the first provider with RSA key
# generation, SunRsaSign: the key is made in the JVM's memory and only
# imported into the token (C_CreateObject). Users must pass -providerName.
step "without -providerName, keytool makes an RSA key in software" -- \
    env KEYWARD_TRACE=1 "${KT[@]}" "$CFG" \
    -genkeypair -alias rsa-imported -keyalg RSA -keysize 2048 -dname CN=java-imported -validity 2
calls
reject_output "C_GenerateKeyPair"
expect_output "C_CreateObject -> CKR_OK"

# --- what the token holds -------------------------------------------------------

# SunPKCS11 stores a private key (CKA_ID = alias, no label) and a
# certificate (CKA_LABEL = CKA_ID = alias); it keeps no public key object.
step "pkcs11-tool lists the private keys and certificates" -- "${P11[@]}" --list-objects
expect_object "$EC_ID" "^Private Key Object; EC .*Access: +sensitive, always sensitive, never extractable, local"
expect_object "$EC_ID" "^Certificate Object.*label: +ec-java .*subject: +DN: .*CN ?= ?java-ec"
expect_object "$RSA_ID" "^Private Key Object; RSA .*Access: +sensitive, always sensitive, never extractable, local"
expect_object "$RSA_ID" "^Certificate Object.*label: +rsa-java .*subject: +DN: .*CN ?= ?java-rsa"
# The imported key: sensitive from now on, but neither local nor "always
# sensitive" (its value was once outside the token).
expect_object 7273612d696d706f72746564 "^Private Key Object; RSA .*Access: +sensitive \|"
step "keytool deletes the imported key and its certificate" -- "${KT[@]}" "$CFG" -delete -alias rsa-imported
step "pkcs11-tool: the imported key is gone" -- "${P11[@]}" --list-objects
reject_output "7273612d696d706f72746564"

# The slot named by its position in the slot list instead of its id.
step "keytool lists both entries (slotListIndex = 0)" -- "${KT[@]}" "$CFG_INDEX" -list -v
expect_output "Keystore provider: $PROVIDER"
expect_output "Your keystore contains 2 entries"
expect_output "Alias name: ec-java"
expect_output "Alias name: rsa-java"
n="$(grep -c '^Entry type: PrivateKeyEntry$' <<<"$LAST_OUTPUT" || true)"
if [ "$n" -ne 2 ]; then
    echo "-- FAILED: $n PrivateKeyEntry entries, wanted 2"
    exit 1
fi
expect_output "Subject Public Key Algorithm: 256-bit EC \(secp256r1\) key"
expect_output "Subject Public Key Algorithm: 2048-bit RSA key"

# The two other ways to register the provider: keytool's -addprovider, and
# a java.security override that puts the configured provider in the list
# (position 12 is SunPKCS11's in OpenJDK 17's java.security), after which
# -storetype PKCS11 alone finds it.
step "keytool -addprovider SunPKCS11 -providerArg" -- \
    keytool -keystore NONE -storetype PKCS11 -addprovider SunPKCS11 -providerArg "$CFG" \
    -storepass:env KEYWARD_PIN -list
expect_output "Your keystore contains 2 entries"
printf 'security.provider.12=SunPKCS11 %s\n' "$CFG" > "$WORK/keyward.java.security"
step "keytool with the provider configured in java.security" -- \
    keytool "-J-Djava.security.properties=$WORK/keyward.java.security" \
    -keystore NONE -storetype PKCS11 -storepass:env KEYWARD_PIN -list
expect_output "Keystore provider: $PROVIDER"
expect_output "Your keystore contains 2 entries"

# --- certificate requests and a CA's reply ---------------------------------

for alias in ec-java rsa-java; do
    step "certificate request signed by the token's $alias key" -- \
        "${KT[@]}" "$CFG" -certreq -alias "$alias" -file "$WORK/$alias.csr" -ext san=dns:"$alias".example
    step "OpenSSL verifies the $alias request's signature" -- \
        openssl req -in "$WORK/$alias.csr" -verify -noout -subject
    expect_output "verify OK"
    expect_output "CN ?= ?java-${alias%-java}\$"
done

step "a software test CA" -- \
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$WORK/ca.key" -out "$WORK/ca.pem" -days 1 -subj "/CN=Keyward Java test CA" \
    -addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign
step "the CA issues a certificate for the EC request" -- \
    openssl x509 -req -in "$WORK/ec-java.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" \
    -set_serial 4242 -days 1 -copy_extensions copy -out "$WORK/ec-java.pem"
cat "$WORK/ec-java.pem" "$WORK/ca.pem" > "$WORK/ec-java-reply.pem"
# The reply replaces the self-signed certificate (C_DestroyObject,
# C_CreateObject) and adds the CA certificate to the token. -noprompt: the
# CA is not in Java's cacerts, keytool would ask whether to trust it.
step "keytool installs the CA's reply next to the token key" -- \
    "${KT[@]}" "$CFG" -importcert -alias ec-java -file "$WORK/ec-java-reply.pem" -noprompt
expect_output "Certificate reply was installed in keystore"
step "the EC entry now has the CA-issued chain" -- "${KT[@]}" "$CFG" -list -v -alias ec-java
expect_output "Entry type: PrivateKeyEntry"
expect_output "Certificate chain length: 2"
expect_output "Issuer: CN=Keyward Java test CA"
expect_output "DNSName: ec-java.example"

# --- jarsigner: code signing with a token key -------------------------------

printf 'signed with a key in Keyward\n' > "$WORK/hello.txt"
step "build a jar" -- jar --create --file "$WORK/app.jar" -C "$WORK" hello.txt
step "jarsigner signs it with the token's RSA key" -- \
    jarsigner -keystore NONE -storetype PKCS11 -addprovider SunPKCS11 -providerArg "$CFG" \
    -storepass:env KEYWARD_PIN -signedjar "$WORK/app-signed.jar" "$WORK/app.jar" rsa-java
expect_output "jar signed"
# Verification uses the JDK's software providers only (no token).
step "jarsigner verifies the signature" -- jarsigner -verify -verbose -certs "$WORK/app-signed.jar"
expect_output "jar verified"
expect_output 'Signed by "CN=java-rsa, O=Keyward interop"'
expect_output "Signature algorithm: SHA256withRSA, 2048-bit key"

# --- a Java program on the provider API --------------------------------------

# Signs with the token keys through SunPKCS11 and checks every signature
# with the JDK's software providers (SunEC, SunRsaSign); ECDH with the token
# key against a software peer; a JSSE TLS server on loopback whose key
# stays in the token, once per key and TLS version, with a client that
# trusts the key's certificate chain. Every socket wait is bounded.
cat > "$WORK/KeywardJava.java" <<'JAVA'
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.*;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.security.spec.*;
import java.util.Arrays;
import java.util.Collections;
import java.util.concurrent.*;
import javax.crypto.Cipher;
import javax.crypto.KeyAgreement;
import javax.net.ssl.*;

public class KeywardJava {
    static final byte[] DATA = "signed in Keyward through SunPKCS11".getBytes(StandardCharsets.UTF_8);

    public static void main(String[] args) throws Exception {
        // The documented way to configure SunPKCS11 in Java 9 and later.
        Provider p = Security.getProvider("SunPKCS11").configure(args[0]);
        Security.addProvider(p);
        KeyStore ks = KeyStore.getInstance("PKCS11", p);
        ks.load(null, System.getenv("KEYWARD_PIN").toCharArray());
        System.out.println("provider " + p.getName() + ", aliases " + Collections.list(ks.aliases()));
        String only = args.length > 1 ? args[1] : "";
        if (only.equals("rsa-decrypt")) {
            rsaDecrypt(ks, p);
            return;
        }
        if (only.equals("ecdh")) {
            ecdh(ks, p);
            return;
        }
        PrivateKey ec = (PrivateKey) ks.getKey("ec-java", null);
        // A token key: Java holds a handle, never the value.
        System.out.println("ec-java private key: " + ec.getClass().getName() + ", encoded form " + ec.getEncoded());
        sign(ks, p, "ec-java", "SHA256withECDSA", null, "SunEC");
        sign(ks, p, "ec-java", "SHA384withECDSA", null, "SunEC");
        sign(ks, p, "rsa-java", "SHA256withRSA", null, "SunRsaSign");
        sign(ks, p, "rsa-java", "RSASSA-PSS",
                new PSSParameterSpec("SHA-256", "MGF1", MGF1ParameterSpec.SHA256, 32, 1), "SunRsaSign");
        ecdh(ks, p);
        try {
            Cipher.getInstance("RSA/ECB/PKCS1Padding", p);
            System.out.println("RSA Cipher: offered");
        } catch (NoSuchAlgorithmException e) {
            System.out.println("RSA Cipher: not offered");
        }
        for (String proto : new String[] {"TLSv1.3", "TLSv1.2"}) {
            for (String alias : new String[] {"ec-java", "rsa-java"}) {
                tls(ks, alias, proto);
            }
        }
        System.out.println("all Java flows passed");
    }

    static void sign(KeyStore ks, Provider p, String alias, String alg, AlgorithmParameterSpec spec,
            String verifier) throws Exception {
        Signature s = Signature.getInstance(alg, p);
        if (spec != null) s.setParameter(spec);
        s.initSign((PrivateKey) ks.getKey(alias, null));
        s.update(DATA);
        byte[] sig = s.sign();
        PublicKey pub = ks.getCertificate(alias).getPublicKey();
        Signature v = Signature.getInstance(alg, verifier);
        if (spec != null) v.setParameter(spec);
        v.initVerify(pub);
        v.update(DATA);
        if (!v.verify(sig)) throw new AssertionError(alias + " " + alg + ": signature does not verify");
        v.initVerify(pub);
        v.update("another message".getBytes(StandardCharsets.UTF_8));
        if (v.verify(sig)) throw new AssertionError(alias + " " + alg + ": verifies another message");
        System.out.println("sign " + alias + " " + alg + " in " + s.getProvider().getName()
                + ", verified by " + v.getProvider().getName());
    }

    static void ecdh(KeyStore ks, Provider p) throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC", "SunEC");
        g.initialize(new ECGenParameterSpec("secp256r1"));
        KeyPair peer = g.generateKeyPair();
        KeyAgreement token = KeyAgreement.getInstance("ECDH", p);
        token.init((PrivateKey) ks.getKey("ec-java", null));
        token.doPhase(peer.getPublic(), true);
        byte[] z1 = token.generateSecret();
        KeyAgreement soft = KeyAgreement.getInstance("ECDH", "SunEC");
        soft.init(peer.getPrivate());
        soft.doPhase(ks.getCertificate("ec-java").getPublicKey(), true);
        if (!Arrays.equals(z1, soft.generateSecret())) throw new AssertionError("ECDH secrets differ");
        System.out.println("ecdh ec-java in " + token.getProvider().getName() + ": " + z1.length
                + "-byte secret equals SunEC's");
    }

    static void rsaDecrypt(KeyStore ks, Provider p) throws Exception {
        Cipher enc = Cipher.getInstance("RSA/ECB/PKCS1Padding", "SunJCE");
        enc.init(Cipher.ENCRYPT_MODE, ks.getCertificate("rsa-java").getPublicKey());
        byte[] ct = enc.doFinal(DATA);
        Cipher dec = Cipher.getInstance("RSA/ECB/PKCS1Padding", p);
        dec.init(Cipher.DECRYPT_MODE, ks.getKey("rsa-java", null));
        if (!Arrays.equals(dec.doFinal(ct), DATA)) throw new AssertionError("RSA decryption differs");
        System.out.println("rsa-java RSA/ECB/PKCS1Padding decryption in " + dec.getProvider().getName());
    }

    static void tls(KeyStore ks, String alias, String proto) throws Exception {
        KeyManagerFactory kmf = KeyManagerFactory.getInstance("SunX509");
        kmf.init(ks, null);
        SSLContext server = SSLContext.getInstance("TLS");
        server.init(new KeyManager[] {new OneAlias((X509KeyManager) kmf.getKeyManagers()[0], alias)},
                null, null);
        // The client trusts the top of the key's chain: the certificate
        // itself when self-signed, the CA after a reply was installed.
        Certificate[] chain = ks.getCertificateChain(alias);
        KeyStore trust = KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        trust.setCertificateEntry("anchor", chain[chain.length - 1]);
        TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
        tmf.init(trust);
        SSLContext client = SSLContext.getInstance("TLS");
        client.init(null, tmf.getTrustManagers(), null);

        ExecutorService ex = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r);
            t.setDaemon(true);
            return t;
        });
        try (SSLServerSocket ss = (SSLServerSocket) server.getServerSocketFactory()
                .createServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            ss.setEnabledProtocols(new String[] {proto});
            ss.setSoTimeout(20000);
            Future<String> served = ex.submit(() -> {
                try (SSLSocket s = (SSLSocket) ss.accept()) {
                    s.setSoTimeout(20000);
                    String line = new BufferedReader(new InputStreamReader(s.getInputStream(),
                            StandardCharsets.UTF_8)).readLine();
                    s.getOutputStream().write(("echo " + line + "\n").getBytes(StandardCharsets.UTF_8));
                    s.getOutputStream().flush();
                    return line;
                }
            });
            String reply;
            SSLSession session;
            // The client closes first: a TLS 1.3 server's close waits for
            // the peer's close_notify.
            try (SSLSocket c = (SSLSocket) client.getSocketFactory()
                    .createSocket(InetAddress.getLoopbackAddress(), ss.getLocalPort())) {
                c.setSoTimeout(20000);
                c.setEnabledProtocols(new String[] {proto});
                c.startHandshake();
                session = c.getSession();
                c.getOutputStream().write("hello\n".getBytes(StandardCharsets.UTF_8));
                c.getOutputStream().flush();
                reply = new BufferedReader(new InputStreamReader(c.getInputStream(),
                        StandardCharsets.UTF_8)).readLine();
            }
            String got = served.get(20, TimeUnit.SECONDS);
            if (!"hello".equals(got) || !"echo hello".equals(reply)) {
                throw new AssertionError("TLS data: server got " + got + ", client got " + reply);
            }
            X509Certificate peer = (X509Certificate) session.getPeerCertificates()[0];
            System.out.println("tls " + alias + " " + session.getProtocol() + " " + session.getCipherSuite()
                    + " server " + peer.getSubjectX500Principal().getName() + ": echo ok");
        } finally {
            ex.shutdownNow();
        }
    }

    // Offers only one alias, so each handshake is made with that token key.
    static final class OneAlias extends X509ExtendedKeyManager {
        private final X509KeyManager km;
        private final String alias;

        OneAlias(X509KeyManager km, String alias) {
            this.km = km;
            this.alias = alias;
        }

        private String pick(String keyType) {
            return km.getPrivateKey(alias).getAlgorithm().equals(keyType) ? alias : null;
        }

        @Override public String chooseServerAlias(String keyType, Principal[] issuers, Socket s) {
            return pick(keyType);
        }

        @Override public String chooseEngineServerAlias(String keyType, Principal[] issuers, SSLEngine e) {
            return pick(keyType);
        }

        @Override public String chooseClientAlias(String[] keyTypes, Principal[] issuers, Socket s) {
            return null;
        }

        @Override public String[] getServerAliases(String keyType, Principal[] issuers) {
            return new String[] {alias};
        }

        @Override public String[] getClientAliases(String keyType, Principal[] issuers) {
            return null;
        }

        @Override public X509Certificate[] getCertificateChain(String a) {
            return km.getCertificateChain(a);
        }

        @Override public PrivateKey getPrivateKey(String a) {
            return km.getPrivateKey(a);
        }
    }
}
JAVA

step "Java: sign, verify, ECDH and TLS with the token keys (ECDH config)" -- \
    java "$WORK/KeywardJava.java" "$CFG_ECDH"
expect_output "^provider $PROVIDER, aliases \[.*ec-java.*\]"
expect_output "^ec-java private key: sun\.security\.pkcs11\.P11Key[$][A-Za-z0-9]+, encoded form null"
for line in "ec-java SHA256withECDSA" "ec-java SHA384withECDSA" "rsa-java SHA256withRSA" "rsa-java RSASSA-PSS"; do
    expect_output "^sign $line in $PROVIDER, verified by Sun(EC|RsaSign)\$"
done
expect_output "^ecdh ec-java in $PROVIDER: 32-byte secret equals SunEC's"
# Keyward offers RSA PKCS#1 v1.5 decryption only when asked to (see below).
expect_output "^RSA Cipher: not offered"
expect_output "^tls ec-java TLSv1\.3 TLS_AES_[0-9]+_GCM_SHA[0-9]+ server CN=java-ec,O=Keyward interop: echo ok"
expect_output "^tls rsa-java TLSv1\.3 TLS_AES_[0-9]+_GCM_SHA[0-9]+ server CN=java-rsa,O=Keyward interop: echo ok"
expect_output "^tls ec-java TLSv1\.2 TLS_ECDHE_ECDSA_WITH_.* server CN=java-ec,O=Keyward interop: echo ok"
expect_output "^tls rsa-java TLSv1\.2 TLS_ECDHE_RSA_WITH_.* server CN=java-rsa,O=Keyward interop: echo ok"
expect_output "^all Java flows passed"

# Without the shipped ECDH block, Java's derived secret is sensitive and it
# cannot read it back (C_DeriveKey succeeds, C_GetAttributeValue(CKA_VALUE)
# answers CKR_ATTRIBUTE_SENSITIVE).
refuse "Java ECDH without the attributes block fails on the sensitive secret" \
    "PKCS11Exception: CKR_ATTRIBUTE_SENSITIVE" -- java "$WORK/KeywardJava.java" "$CFG" ecdh

# JDK 17's SunPKCS11 decrypts RSA only with PKCS#1 v1.5 (CKM_RSA_PKCS) or
# raw RSA; it has no OAEP. Keyward offers those for decryption only with
# allow_legacy_rsa_decryption = true.
printf 'pin_kdf_iterations = 1000\nallow_legacy_rsa_decryption = true\n' > "$WORK/legacy-rsa.toml"
step "Java RSA decryption once Keyward allows PKCS#1 v1.5" -- \
    env KEYWARD_CONF="$WORK/legacy-rsa.toml" java "$WORK/KeywardJava.java" "$CFG" rsa-decrypt
expect_output "^rsa-java RSA/ECB/PKCS1Padding decryption in $PROVIDER"

# --- slot ids stay put ---------------------------------------------------------

# A second slot (id 5) added to Keyward's configuration: slot 0 keeps its id
# and its token, and a config naming slot 5 reaches the new one, also after
# that token is re-initialized.
TWO_SLOTS="$WORK/two-slots.toml"
printf 'pin_kdf_iterations = 1000\n[[slot]]\nid = 0\n[[slot]]\nid = 5\n' > "$TWO_SLOTS"
CFG5="$WORK/keyward-slot5.cfg"
sed 's/^slot = 0$/slot = 5/' "$CFG" > "$CFG5"
CFG5_INDEX="$WORK/keyward-index1.cfg"
sed 's/^slot = 0$/slotListIndex = 1/' "$CFG" > "$CFG5_INDEX"
P11_5=(env KEYWARD_CONF="$TWO_SLOTS" pkcs11-tool --module "$MODULE" --slot 5)
step "initialize the token in slot 5" -- \
    "${P11_5[@]}" --init-token --label "Keyward Java 5" --so-pin "$SO_PIN"
step "set its user PIN" -- \
    "${P11_5[@]}" --login --login-type so --so-pin "$SO_PIN" --init-pin --pin "$USER_PIN"
step "EC key pair in slot 5 (slot = 5)" -- env KEYWARD_CONF="$TWO_SLOTS" \
    "${KT[@]}" "$CFG5" -providerName "$PROVIDER" \
    -genkeypair -alias slot5-ec -keyalg EC -groupname secp256r1 -dname CN=slot5 -validity 2
step "slot = 5 sees only its own key" -- env KEYWARD_CONF="$TWO_SLOTS" \
    "${KT[@]}" "$CFG5" -list
expect_output "Your keystore contains 1 entry"
expect_output "^slot5-ec, "
step "slotListIndex = 1 is the same slot" -- env KEYWARD_CONF="$TWO_SLOTS" \
    "${KT[@]}" "$CFG5_INDEX" -list
expect_output "^slot5-ec, "
step "slot = 0 still has its two entries" -- env KEYWARD_CONF="$TWO_SLOTS" \
    "${KT[@]}" "$CFG" -list
expect_output "Your keystore contains 2 entries"
step "re-initialize the token in slot 5" -- \
    "${P11_5[@]}" --init-token --label "Keyward Java 5b" --so-pin "$SO_PIN"
step "set its user PIN again" -- \
    "${P11_5[@]}" --login --login-type so --so-pin "$SO_PIN" --init-pin --pin "$USER_PIN"
step "slot = 5 reaches the re-initialized (empty) token" -- env KEYWARD_CONF="$TWO_SLOTS" \
    "${KT[@]}" "$CFG5" -list
expect_output "Your keystore contains 0 entries"

printf '\nJava SunPKCS11: all flows passed\n'
