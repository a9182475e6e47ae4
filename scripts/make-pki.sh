#!/usr/bin/env bash
# Regenerates fixtures/pki: a test PKI shaped like Taiwan's government PKI (GRCA root -> GCA intermediate -> agency
# staff with a signing and an encryption certificate each, as on a government IC card), plus troubled certificates for
# negative tests, CRLs, the GCA's CA database (for `openssl ca` / `openssl ocsp -index`), PKCS#12 keystores,
# manifest.json and README.md. Uses only the openssl CLI (3.0+) and node (to merge two-key PKCS#12 files).
#
# Usage: bash scripts/make-pki.sh   (or `npm run fixtures:pki`)
#   SEALPOST_PKI_OUT=/tmp/x/pki bash scripts/make-pki.sh   writes elsewhere (the folder must be named "pki").
#   bash scripts/make-pki.sh --only ec-people   adds only the EC staff members (one per agency) to an existing
#     fixtures/pki with its existing CA keys and database: their files, their manifest.json "people" entries and
#     README rows; nothing else is touched (the GCA database gains their serials).
# Obligations: wipes fixtures/pki entirely and writes fresh keys, so every file that depends on the old keys (sealed
# test files, registered certificates) must be regenerated too. Every name, agency and PIN is fictional test data.
# Secrets never go on a command line: PINs reach openssl through environment variables (-passin/-passout env:VAR).
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${SEALPOST_PKI_OUT:-$ROOT_DIR/fixtures/pki}"
ONLY=""
if [ "${1:-}" = "--only" ]; then
  ONLY="${2:-}"
  if [ "$ONLY" != ec-people ]; then
    echo "make-pki: error: --only takes ec-people (got '$ONLY')" >&2
    exit 2
  fi
  if [ ! -f "$OUT/manifest.json" ] || [ ! -f "$OUT/intermediate/gca.key.pem" ]; then
    echo "make-pki: error: --only needs an existing $OUT (manifest.json and the GCA key)" >&2
    exit 2
  fi
fi
if [ "$(basename "$OUT")" != pki ]; then
  echo "make-pki: error: output folder must be named pki (got $OUT); it is wiped and regenerated" >&2
  exit 2
fi
CNF="$ROOT_DIR/scripts/pki/openssl.cnf"
MERGE="$ROOT_DIR/scripts/pki/merge-p12.mjs"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

export PKI_OUT="$OUT" PKI_TMP="$TMP" PKI_EMAIL="unused@example.invalid" PKI_STRING_MASK="utf8only"
export OPENSSL_CONF="$CNF"

# Validity: every good certificate lasts until at least 2099-12-31 so that CI never breaks by date.
GOOD_START="20250101000000Z"
GOOD_END="20991231235959Z"
GCA_END="21051231235959Z"
ROOT_END="21101231235959Z"
CDP_CRL="http://127.0.0.1:18080/crl/gca.crl"

README_ROWS="$TMP/readme-rows.md"
: >"$README_ROWS"
# row FILE WHO USAGE PIN PURPOSE: one line of the README's file table.
row() { printf '| `%s` | %s | %s | %s | %s |\n' "$1" "$2" "$3" "$4" "$5" >>"$README_ROWS"; }

# rsa_key OUT BITS: an unencrypted PKCS#8 PEM RSA key. ec_key OUT [CURVE]: an EC key (default P-256).
rsa_key() { openssl genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:$2" -out "$1" 2>/dev/null; }
ec_key() { openssl genpkey -algorithm EC -pkeyopt "ec_paramgen_curve:${2:-P-256}" -out "$1" 2>/dev/null; }

# csr KEY SUBJECT OUT [string_mask]: a certificate request with a UTF-8 subject (BMPString when mask is "default").
csr() {
  PKI_STRING_MASK="${4:-utf8only}" openssl req -new -utf8 -key "$1" -subj "$2" -out "$3"
}

# issue CSR OUT EXTENSIONS EMAIL START END [extra openssl ca args...]: the GCA signs a request.
issue() {
  local req="$1" out="$2" ext="$3" email="$4" start="$5" end="$6"
  shift 6
  PKI_EMAIL="$email" openssl ca -batch -notext -utf8 -name gca -extensions "$ext" \
    -startdate "$start" -enddate "$end" -in "$req" -out "$out" "$@" 2>"$TMP/ca.log" ||
    {
      cat "$TMP/ca.log" >&2
      exit 1
    }
}

# p12 OUT KEY CERT NAME PIN [nochain]: a modern PKCS#12 (PBES2 AES-256-CBC, SHA-256 MAC), with the chain unless
# "nochain" is given.
p12() {
  local out="$1" key="$2" cert="$3" name="$4" chain=(-certfile "$OUT/intermediate/chain.pem")
  [ "${6:-}" = nochain ] && chain=()
  P12_PIN="$5" openssl pkcs12 -export -inkey "$key" -in "$cert" "${chain[@]}" \
    -name "$name" -keypbe AES-256-CBC -certpbe AES-256-CBC -macalg sha256 -passout env:P12_PIN -out "$out"
}

MANIFEST_PEOPLE="$TMP/people.json"
: >"$MANIFEST_PEOPLE"
MANIFEST_EC_PEOPLE="$TMP/ec-people.json"
: >"$MANIFEST_EC_PEOPLE"

SOC="高雄市政府社會局"
TAX="高雄市稅捐稽徵處"
OPS="sealpost 測試維運中心"

# ec_person ID NAME AGENCY_CODE AGENCY_NAME ROLE EMAIL PIN CURVE: an EC staff member: an ECDSA signing key pair and
# an ECDH encryption key pair (keyAgreement) on CURVE, two certificates from the GCA, one PKCS#12.
ec_person() {
  local id="$1" name="$2" code="$3" agency="$4" role="$5" email="$6" pin="$7" curve="$8"
  local dir="$OUT/people/$id"
  echo "make-pki: EC $role $id ($curve)"
  mkdir -p "$dir"
  for use in sign encrypt; do
    ec_key "$dir/$use.key.pem" "$curve"
    csr "$dir/$use.key.pem" "/C=TW/O=$agency/OU=$code/CN=$name" "$TMP/$id-$use.csr"
    issue "$TMP/$id-$use.csr" "$dir/$use.cert.pem" "v3_ec_$use" "$email" "$GOOD_START" "$GOOD_END"
    p12 "$TMP/$id-$use.p12" "$dir/$use.key.pem" "$dir/$use.cert.pem" "$id $use" "$pin" "$([ "$use" = encrypt ] && echo nochain)"
  done
  P12_PIN="$pin" node "$MERGE" "$dir/$id.p12" "$TMP/$id-sign.p12" "$TMP/$id-encrypt.p12"
  row "people/$id/sign.cert.pem" "$name ($code, $role)" "digitalSignature, nonRepudiation" "-" "ECDSA $curve signing certificate"
  row "people/$id/sign.key.pem" "$name" "-" "-" "EC $curve signing key (PKCS#8 PEM, unencrypted)"
  row "people/$id/encrypt.cert.pem" "$name ($code, $role)" "keyAgreement" "-" "ECDH $curve encryption certificate"
  row "people/$id/encrypt.key.pem" "$name" "-" "-" "EC $curve encryption key (PKCS#8 PEM, unencrypted)"
  row "people/$id/$id.p12" "$name" "both pairs" "\`$pin\`" "PKCS#12 (PBES2 AES-256-CBC, SHA-256 MAC), both EC keys + certs + chain"
  [ -s "$MANIFEST_EC_PEOPLE" ] && printf ',\n' >>"$MANIFEST_EC_PEOPLE"
  printf '"%s": {"name": "%s", "agency": "%s", "role": "%s", "email": "%s", "keyType": "ec", "curve": "%s", "sign": {"cert": "%s", "key": "%s"}, "encrypt": {"cert": "%s", "key": "%s"}, "p12": "%s", "pin": "%s"}' \
    "$id" "$name" "$code" "$role" "$email" "$curve" "people/$id/sign.cert.pem" "people/$id/sign.key.pem" \
    "people/$id/encrypt.cert.pem" "people/$id/encrypt.key.pem" "people/$id/$id.p12" "$pin" >>"$MANIFEST_EC_PEOPLE"
}

EC_README_BULLET="- EC staff, one per agency (soc-tsai P-256, tax-chiu P-384, ops-pan P-256): an ECDSA signing pair (digitalSignature,
  nonRepudiation) and an ECDH encryption pair (keyUsage critical keyAgreement) on the same curve, certificates from
  the GCA (sha256WithRSAEncryption); manifest entries add keyType (ec) and curve."

# One EC staff member per agency (P-384 at the tax bureau, P-256 elsewhere).
ec_people() {
  ec_person soc-tsai "蔡佩珊" KHH-SOC "$SOC" staff tsai@soc.khh.example soc-tsai-PIN-1357 P-256
  ec_person tax-chiu "邱冠宇" KHH-TAX "$TAX" staff chiu@tax.khh.example tax-chiu-PIN-2468 P-384
  ec_person ops-pan "潘怡婷" SEALPOST-OPS "$OPS" staff pan@ops.sealpost.example ops-pan-PIN-3579 P-256
}

if [ "$ONLY" = ec-people ]; then
  mkdir -p "$TMP/gca-newcerts"
  ec_people
  rm -f "$OUT"/ca-db/*.old
  # Add the new people to manifest.json (existing keys untouched) and their rows to the end of the README table.
  node -e '
const fs = require("fs");
const [file, add] = process.argv.slice(1);
const m = JSON.parse(fs.readFileSync(file, "utf8"));
const extra = JSON.parse("{" + fs.readFileSync(add, "utf8") + "}");
for (const [k, v] of Object.entries(extra)) if (!(k in m.people)) m.people[k] = v;
fs.writeFileSync(file, JSON.stringify(m, null, 2) + "\n");' "$OUT/manifest.json" "$MANIFEST_EC_PEOPLE"
  node -e '
const fs = require("fs");
const [file, bullet] = process.argv.slice(1);
let t = fs.readFileSync(file, "utf8");
if (!t.includes(bullet.split("\n")[0])) t = t.replace("\n- Agencies:", "\n" + bullet + "\n- Agencies:");
fs.writeFileSync(file, t);' "$OUT/README.md" "$EC_README_BULLET"
  cat "$README_ROWS" >>"$OUT/README.md"
  for f in "$OUT"/people/{soc-tsai,tax-chiu,ops-pan}/*.cert.pem; do
    openssl verify -CAfile "$OUT/root/grca.cert.pem" -untrusted "$OUT/intermediate/gca.cert.pem" -crl_check \
      -CRLfile "$OUT/intermediate/gca.crl.pem" "$f" >/dev/null
  done
  echo "make-pki: added the EC people to $OUT"
  exit 0
fi

rm -rf "$OUT"
mkdir -p "$OUT"/{root,intermediate,ca-db,people,troubled} "$TMP"/{grca-db/newcerts,gca-newcerts}
touch "$TMP/grca-db/index.txt" "$OUT/ca-db/index.txt"
echo 01 >"$TMP/grca-db/serial"
echo 01 >"$TMP/grca-db/crlnumber"
echo 1000 >"$OUT/ca-db/serial"
echo 01 >"$OUT/ca-db/crlnumber"
printf 'unique_subject = no\n' >"$OUT/ca-db/index.txt.attr"
printf 'unique_subject = no\n' >"$TMP/grca-db/index.txt.attr"

echo "make-pki: root (test GRCA, RSA-4096)"
rsa_key "$OUT/root/grca.key.pem" 4096
csr "$OUT/root/grca.key.pem" "/C=TW/O=sealpost test/CN=測試用 政府憑證總管理中心 GRCA (test)" "$TMP/grca.csr"
openssl ca -batch -notext -utf8 -selfsign -name grca -extensions v3_root -startdate "$GOOD_START" \
  -enddate "$ROOT_END" -keyfile "$OUT/root/grca.key.pem" -in "$TMP/grca.csr" -out "$OUT/root/grca.cert.pem" 2>"$TMP/ca.log" ||
  {
    cat "$TMP/ca.log" >&2
    exit 1
  }
openssl x509 -in "$OUT/root/grca.cert.pem" -outform DER -out "$OUT/root/grca.cert.der"
row root/grca.cert.pem "test GRCA (root)" "keyCertSign, cRLSign" "-" "trust anchor"
row root/grca.cert.der "test GRCA (root)" "keyCertSign, cRLSign" "-" "trust anchor, DER"
row root/grca.key.pem "test GRCA (root)" "-" "-" "root private key (test only)"

echo "make-pki: intermediate (test GCA, RSA-2048)"
rsa_key "$OUT/intermediate/gca.key.pem" 2048
csr "$OUT/intermediate/gca.key.pem" "/C=TW/O=sealpost test/CN=測試用 政府憑證管理中心 GCA (test)" "$TMP/gca.csr"
openssl ca -batch -notext -utf8 -name grca -extensions v3_gca -startdate "$GOOD_START" -enddate "$GCA_END" \
  -in "$TMP/gca.csr" -out "$OUT/intermediate/gca.cert.pem" 2>"$TMP/ca.log" || {
  cat "$TMP/ca.log" >&2
  exit 1
}
openssl x509 -in "$OUT/intermediate/gca.cert.pem" -outform DER -out "$OUT/intermediate/gca.cert.der"
cat "$OUT/intermediate/gca.cert.pem" "$OUT/root/grca.cert.pem" >"$OUT/intermediate/chain.pem"
openssl ca -batch -name grca -gencrl -crl_lastupdate "$GOOD_START" -crl_nextupdate "$GOOD_END" \
  -out "$OUT/root/grca.crl.pem" 2>"$TMP/ca.log"
row intermediate/gca.cert.pem "test GCA (intermediate)" "keyCertSign, cRLSign" "-" "issues every end-entity certificate"
row intermediate/gca.cert.der "test GCA (intermediate)" "keyCertSign, cRLSign" "-" "the same, DER (what caIssuers serves)"
row intermediate/gca.key.pem "test GCA (intermediate)" "-" "-" "GCA private key: signs CRLs and OCSP responses in tests"
row intermediate/chain.pem "GCA + GRCA" "-" "-" "chain bundle, intermediate first"
row root/grca.crl.pem "test GRCA" "-" "-" "root CRL (empty, nextUpdate 2099-12-31)"

# The expired CRL is made before anything is revoked: lastUpdate 2021-01-01, nextUpdate 2021-02-01, no entries.
openssl ca -batch -name gca -gencrl -crl_lastupdate 20210101000000Z -crl_nextupdate 20210201000000Z \
  -out "$OUT/intermediate/gca-expired.crl.pem" 2>"$TMP/ca.log"
row intermediate/gca-expired.crl.pem "test GCA" "-" "-" "expired CRL (nextUpdate 2021-02-01), must be refused as stale"

# person ID NAME AGENCY_CODE AGENCY_NAME ROLE EMAIL PIN [string_mask]: two key pairs, two certificates, one PKCS#12.
person() {
  local id="$1" name="$2" code="$3" agency="$4" role="$5" email="$6" pin="$7" mask="${8:-utf8only}"
  local dir="$OUT/people/$id"
  local subj="/C=TW/O=$agency/OU=$code/CN=$name"
  echo "make-pki: $role $id"
  mkdir -p "$dir"
  for use in sign encrypt; do
    rsa_key "$dir/$use.key.pem" 2048
    csr "$dir/$use.key.pem" "$subj" "$TMP/$id-$use.csr" "$mask"
    issue "$TMP/$id-$use.csr" "$dir/$use.cert.pem" "v3_$use" "$email" "$GOOD_START" "$GOOD_END"
    # The chain goes into the signing half only, so the merged file holds each CA certificate once.
    p12 "$TMP/$id-$use.p12" "$dir/$use.key.pem" "$dir/$use.cert.pem" "$id $use" "$pin" "$([ "$use" = encrypt ] && echo nochain)"
  done
  P12_PIN="$pin" node "$MERGE" "$dir/$id.p12" "$TMP/$id-sign.p12" "$TMP/$id-encrypt.p12"
  row "people/$id/sign.cert.pem" "$name ($code, $role)" "digitalSignature, nonRepudiation" "-" "signing certificate"
  row "people/$id/sign.key.pem" "$name" "-" "-" "signing key (PKCS#8 PEM, unencrypted)"
  row "people/$id/encrypt.cert.pem" "$name ($code, $role)" "keyEncipherment, dataEncipherment" "-" "encryption certificate"
  row "people/$id/encrypt.key.pem" "$name" "-" "-" "encryption key (PKCS#8 PEM, unencrypted)"
  row "people/$id/$id.p12" "$name" "both pairs" "\`$pin\`" "PKCS#12 (PBES2 AES-256-CBC, SHA-256 MAC), both keys + certs + chain"
  local extra=""
  if [ "$id" = "soc-lin" ]; then
    # One encrypted PKCS#8 PEM key (PBES2, AES-256-CBC, HMAC-SHA256), passphrase = the person's PIN.
    P12_PIN="$pin" openssl pkcs8 -topk8 -v2 aes-256-cbc -v2prf hmacWithSHA256 -in "$dir/sign.key.pem" \
      -passout env:P12_PIN -out "$dir/sign.key.enc.pem"
    extra=", \"key_encrypted\": \"people/$id/sign.key.enc.pem\""
    row "people/$id/sign.key.enc.pem" "$name" "-" "\`$pin\`" "signing key as encrypted PKCS#8 PEM (PBES2 AES-256-CBC)"
  fi
  [ -s "$MANIFEST_PEOPLE" ] && printf ',\n' >>"$MANIFEST_PEOPLE"
  printf '"%s": {"name": "%s", "agency": "%s", "role": "%s", "email": "%s", "sign": {"cert": "%s", "key": "%s"%s}, "encrypt": {"cert": "%s", "key": "%s"}, "p12": "%s", "pin": "%s"}' \
    "$id" "$name" "$code" "$role" "$email" "people/$id/sign.cert.pem" "people/$id/sign.key.pem" "$extra" \
    "people/$id/encrypt.cert.pem" "people/$id/encrypt.key.pem" "people/$id/$id.p12" "$pin" >>"$MANIFEST_PEOPLE"
}

person soc-chen "陳怡君" KHH-SOC "$SOC" staff chen@soc.khh.example soc-chen-PIN-1234
person soc-lin "林志明" KHH-SOC "$SOC" staff lin@soc.khh.example soc-lin-PIN-2345
person soc-huang "黃淑芬" KHH-SOC "$SOC" staff huang@soc.khh.example soc-huang-PIN-3456
person tax-wang "王建民" KHH-TAX "$TAX" staff wang@tax.khh.example tax-wang-PIN-4567
person tax-lee "李美玲" KHH-TAX "$TAX" staff lee@tax.khh.example tax-lee-PIN-5678 default
person tax-chang "張家豪" KHH-TAX "$TAX" staff chang@tax.khh.example tax-chang-PIN-6789
person ops-wu "吳承翰" SEALPOST-OPS "$OPS" admin wu@ops.sealpost.example ops-wu-PIN-7890
person ops-liu "劉雅婷" SEALPOST-OPS "$OPS" ops liu@ops.sealpost.example ops-liu-PIN-8901
ec_people

MANIFEST_TROUBLED="$TMP/troubled.json"
: >"$MANIFEST_TROUBLED"

# troubled KIND NAME CODE AGENCY EMAIL EXT KEYTYPE START END NOTE [ca args...]: one problem certificate, its key, a p12.
troubled() {
  local kind="$1" name="$2" code="$3" agency="$4" email="$5" ext="$6" keytype="$7" start="$8" end="$9" note="${10}"
  shift 10
  local dir="$OUT/troubled/$kind" pin="$kind-PIN-0000"
  echo "make-pki: troubled $kind"
  mkdir -p "$dir"
  case "$keytype" in
  rsa1024) rsa_key "$dir/key.pem" 1024 ;;
  ec) ec_key "$dir/key.pem" ;;
  *) rsa_key "$dir/key.pem" 2048 ;;
  esac
  csr "$dir/key.pem" "/C=TW/O=$agency/OU=$code/CN=$name" "$TMP/$kind.csr"
  issue "$TMP/$kind.csr" "$dir/cert.pem" "$ext" "$email" "$start" "$end" "$@"
  if [ "$kind" = "legacy_p12" ]; then
    P12_PIN="$pin" openssl pkcs12 -export -legacy -inkey "$dir/key.pem" -in "$dir/cert.pem" \
      -certfile "$OUT/intermediate/chain.pem" -name "$kind" -passout env:P12_PIN -out "$dir/$kind.p12"
  else
    p12 "$dir/$kind.p12" "$dir/key.pem" "$dir/cert.pem" "$kind" "$pin"
  fi
  troubled_entry "$kind" "$name" "$email" "$pin" "$note"
}

troubled_entry() {
  local kind="$1" name="$2" email="$3" pin="$4" note="$5" dir="troubled/$1"
  [ -s "$MANIFEST_TROUBLED" ] && printf ',\n' >>"$MANIFEST_TROUBLED"
  printf '"%s": {"cert": "%s", "key": "%s", "p12": "%s", "pin": "%s", "name": "%s", "email": "%s", "note": "%s"}' \
    "$kind" "$dir/cert.pem" "$dir/key.pem" "$dir/$kind.p12" "$pin" "$name" "$email" "$note" >>"$MANIFEST_TROUBLED"
  row "$dir/cert.pem" "$name" "$(openssl x509 -in "$OUT/$dir/cert.pem" -noout -ext keyUsage | tail -n +2 | sed 's/^ *//')" "-" "$note"
  row "$dir/key.pem" "$name" "-" "-" "its private key (PKCS#8 PEM, unencrypted)"
  row "$dir/$kind.p12" "$name" "-" "\`$pin\`" "its PKCS#12$([ "$kind" = legacy_p12 ] && echo ' (legacy: PBE-SHA1-3DES key, RC2-40 certs, SHA-1 MAC)' || echo ' (modern)')"
}

troubled expired "周文彬" KHH-SOC "$SOC" zhou@soc.khh.example v3_both rsa 20200101000000Z 20211231235959Z \
  "expired: valid 2020-01-01 to 2021-12-31; otherwise good (sign + encrypt usage)"
troubled not_yet_valid "許佳蓉" KHH-TAX "$TAX" hsu@tax.khh.example v3_both rsa 20980101000000Z "$GOOD_END" \
  "not yet valid: starts 2098-01-01; otherwise good (sign + encrypt usage)"
troubled revoked "蔡宗翰" KHH-TAX "$TAX" tsai@tax.khh.example v3_both rsa "$GOOD_START" "$GOOD_END" \
  "revoked in the current GCA CRL and index.txt, reason keyCompromise; otherwise good"
troubled on_hold "鄭雅文" KHH-TAX "$TAX" cheng@tax.khh.example v3_both rsa "$GOOD_START" "$GOOD_END" \
  "on hold: certificateHold in the current GCA CRL and index.txt (reversible); otherwise good"
troubled sign_only_usage "謝明哲" KHH-TAX "$TAX" hsieh@tax.khh.example v3_sign rsa "$GOOD_START" "$GOOD_END" \
  "signing certificate (digitalSignature, nonRepudiation, no keyEncipherment): must be refused as an encryption recipient"
troubled encrypt_only_usage "郭靜怡" KHH-SOC "$SOC" kuo@soc.khh.example v3_encrypt rsa "$GOOD_START" "$GOOD_END" \
  "encryption certificate (keyEncipherment, dataEncipherment, no digitalSignature): must be refused as a signer"
troubled rsa1024_sha1 "洪國華" KHH-TAX "$TAX" hung@tax.khh.example v3_both rsa1024 "$GOOD_START" "$GOOD_END" \
  "RSA-1024 key, certificate signed by the GCA with sha1WithRSAEncryption: must be refused (weak key, weak algorithm)" \
  -md sha1
troubled ec_p256 "曾子涵" KHH-SOC "$SOC" tseng@soc.khh.example v3_ec ec "$GOOD_START" "$GOOD_END" \
  "EC P-256 key (digitalSignature, nonRepudiation, keyAgreement), valid chain: for later ECDH/ECDSA work"
troubled legacy_p12 "楊淑惠" KHH-TAX "$TAX" yang@tax.khh.example v3_both rsa "$GOOD_START" "$GOOD_END" \
  "good certificate (sign + encrypt usage) in a legacy PKCS#12: PBE-SHA1-3DES key bag, RC2-40 cert bag, SHA-1 MAC (open with -legacy)"

echo "make-pki: troubled impostor"
IMP="$OUT/troubled/impostor"
mkdir -p "$IMP"
rsa_key "$IMP/key.pem" 2048
PKI_EMAIL=chen@soc.khh.example openssl req -new -x509 -utf8 -key "$IMP/key.pem" -extensions v3_impostor \
  -subj "/C=TW/O=$SOC/OU=KHH-SOC/CN=陳怡君" -days 27000 -set_serial 0x1000 -out "$IMP/cert.pem"
p12 "$IMP/impostor.p12" "$IMP/key.pem" "$IMP/cert.pem" impostor impostor-PIN-0000
troubled_entry impostor "陳怡君" chen@soc.khh.example impostor-PIN-0000 \
  "self-signed impostor with the same subject and email as soc-chen (and the serial of the GCA's first certificate); not trusted"

echo "make-pki: revocations and current CRL"
openssl ca -batch -name gca -revoke "$OUT/troubled/revoked/cert.pem" -crl_reason keyCompromise 2>"$TMP/ca.log"
openssl ca -batch -name gca -revoke "$OUT/troubled/on_hold/cert.pem" -crl_hold holdInstructionReject 2>"$TMP/ca.log"
openssl ca -batch -name gca -gencrl -crl_nextupdate "$GOOD_END" -out "$OUT/intermediate/gca.crl.pem" 2>"$TMP/ca.log"
openssl crl -in "$OUT/intermediate/gca.crl.pem" -outform DER -out "$OUT/intermediate/gca.crl.der"
row intermediate/gca.crl.pem "test GCA" "-" "-" "current CRL (nextUpdate 2099-12-31): revoked (keyCompromise), on_hold (certificateHold)"
row intermediate/gca.crl.der "test GCA" "-" "-" "the current CRL as DER, what $CDP_CRL serves"
rm -f "$OUT"/ca-db/*.old
row ca-db/index.txt "test GCA" "-" "-" "openssl ca database: \`openssl ocsp -index\`"
row "ca-db/serial, ca-db/crlnumber, ca-db/index.txt.attr" "test GCA" "-" "-" "rest of the openssl ca database (next serial, next CRL number)"
row manifest.json "-" "-" "-" "machine-readable list of all of the above"

echo "make-pki: manifest.json, README.md"
{
  cat <<EOF
{
  "root": {"cert": "root/grca.cert.pem", "key": "root/grca.key.pem", "crl": "root/grca.crl.pem", "cert_der": "root/grca.cert.der"},
  "intermediate": {"cert": "intermediate/gca.cert.pem", "crl": "intermediate/gca.crl.pem", "crl_expired": "intermediate/gca-expired.crl.pem",
    "key": "intermediate/gca.key.pem", "chain": "intermediate/chain.pem", "cert_der": "intermediate/gca.cert.der",
    "crl_der": "intermediate/gca.crl.der", "ca_index": "ca-db/index.txt", "crl_url": "$CDP_CRL", "ocsp_url": "http://127.0.0.1:18081"},
  "agencies": {
    "KHH-SOC": {"name": "$SOC", "email": "sealpost@soc.khh.example"},
    "KHH-TAX": {"name": "$TAX", "email": "sealpost@tax.khh.example"},
    "SEALPOST-OPS": {"name": "$OPS", "email": "ops@ops.sealpost.example"}
  },
  "people": {
EOF
  cat "$MANIFEST_PEOPLE"
  printf ',\n'
  cat "$MANIFEST_EC_PEOPLE"
  printf '\n  },\n  "troubled": {\n'
  cat "$MANIFEST_TROUBLED"
  printf '\n  }\n}\n'
} >"$TMP/manifest.json"
node -e 'const fs=require("fs");const m=JSON.parse(fs.readFileSync(process.argv[1],"utf8"));fs.writeFileSync(process.argv[2],JSON.stringify(m,null,2)+"\n")' \
  "$TMP/manifest.json" "$OUT/manifest.json"

{
  cat <<'EOF'
# sealpost test PKI (fictional test data)

Generated by `bash scripts/make-pki.sh` (`npm run fixtures:pki`); do not edit by hand. Regenerating replaces every
key. **Every person, name, email, PIN and agency entry here is fictional test data**; the agency names only mimic the
shape of Taiwan's government PKI (GRCA root -> GCA intermediate -> staff IC-card certificates). No key here protects
anything real: private keys are committed on purpose.

- Root: test GRCA, RSA-4096, valid 2025-01-01 to 2110-12-31. Intermediate: test GCA, RSA-2048, pathlen 0, valid to
  2105-12-31; it issues every end-entity certificate. Good end-entity certificates are valid 2025-01-01 to 2099-12-31.
- End-entity certificates carry subjectKeyIdentifier, authorityKeyIdentifier, an email subjectAltName, a CRL
  distribution point (`http://127.0.0.1:18080/crl/gca.crl`) and an OCSP URL (`http://127.0.0.1:18081`), both on
  loopback for tests that start their own servers.
- Subjects: `C=TW, O=<agency name>, OU=<agency code>, CN=<name>` as UTF8String; **tax-lee (李美玲) has O and CN as
  BMPString** (as older cards do).
- Every person holds two RSA-2048 key pairs, as on a government IC card: signing (keyUsage critical digitalSignature,
  nonRepudiation) and encryption (keyUsage critical keyEncipherment, dataEncipherment). Their `<id>.p12` holds both
  keys, both certificates and the chain (PBES2 AES-256-CBC, SHA-256 MAC; two keys per file are merged by
  `scripts/pki/merge-p12.mjs`, as the openssl CLI writes only one key per PKCS#12).
- EC staff, one per agency (soc-tsai P-256, tax-chiu P-384, ops-pan P-256): an ECDSA signing pair (digitalSignature,
  nonRepudiation) and an ECDH encryption pair (keyUsage critical keyAgreement) on the same curve, certificates from
  the GCA (sha256WithRSAEncryption); manifest entries add keyType (ec) and curve.
- Agencies: KHH-SOC 高雄市政府社會局 (city social-affairs department), KHH-TAX 高雄市稅捐稽徵處 (city tax bureau),
  SEALPOST-OPS sealpost 測試維運中心 (the relay's fictional operator: the admin ops-wu and the ops person ops-liu).
- One encrypted PKCS#8 PEM key: `people/soc-lin/sign.key.enc.pem`, passphrase = soc-lin's PIN `soc-lin-PIN-2345`.
- OCSP responder for tests: `openssl ocsp -index fixtures/pki/ca-db/index.txt -CA intermediate/gca.cert.pem
  -rsigner intermediate/gca.cert.pem -rkey intermediate/gca.key.pem -port 18081`.
- Troubled certificates (`troubled/<kind>/`) each have a key, a PKCS#12 with PIN `<kind>-PIN-0000`, and a note in
  manifest.json. Except where the fault is the key usage itself, they allow both signing and encryption, so that the
  intended fault is the only one.
- `manifest.json` lists everything machine-readably (paths relative to this folder).

| file | who | key usage | PIN | purpose |
|---|---|---|---|---|
EOF
  cat "$README_ROWS"
} >"$OUT/README.md"

# Self-check: every good certificate chains to the root with the current CRL; every PKCS#12 opens with its PIN.
for f in "$OUT"/people/*/*.cert.pem; do
  openssl verify -CAfile "$OUT/root/grca.cert.pem" -untrusted "$OUT/intermediate/gca.cert.pem" -crl_check \
    -CRLfile "$OUT/intermediate/gca.crl.pem" "$f" >/dev/null
done
node -e '
const { execFileSync } = require("node:child_process");
const dir = process.argv[1];
const m = require(dir + "/manifest.json");
const stores = [...Object.values(m.people), ...Object.values(m.troubled)].filter((x) => x.p12);
for (const s of stores) {
  const legacy = s.p12.includes("legacy") ? ["-legacy"] : [];
  execFileSync("openssl", ["pkcs12", "-info", "-noout", ...legacy, "-in", dir + "/" + s.p12, "-passin", "env:PIN"],
    { env: { ...process.env, PIN: s.pin }, stdio: ["ignore", "ignore", "ignore"] });
}' "$OUT"

echo "make-pki: done ($(find "$OUT" -type f | wc -l) files in $OUT)"
