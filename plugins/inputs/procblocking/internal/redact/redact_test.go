package redact

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func newTestRedactor(t *testing.T, custom ...string) *Redactor {
	t.Helper()
	r, err := New(custom)
	require.NoError(t, err)
	return r
}

// One case per built-in rule and per key word.
func TestRedactBuiltinRules(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		// key-value: --key=value, -key=value, KEY=value
		{"--password=", "app --password=hunter2 run", "app --password=*** run"},
		{"--passwd=", "app --passwd=hunter2", "app --passwd=***"},
		{"--pwd=", "mysql --pwd=hunter2", "mysql --pwd=***"},
		{"--token=", "pytest --token=ghp_abc123", "pytest --token=***"},
		{"--secret=", "x --client-secret=s3", "x --client-secret=***"},
		{"--api-key=", "x --api-key=k1", "x --api-key=***"},
		{"--apikey=", "x --apikey=k1", "x --apikey=***"},
		{"--api_key=", "x --api_key=k1", "x --api_key=***"},
		{"--credential=", "x --credential=c1", "x --credential=***"},
		{"--credentials=", "x --credentials=c1", "x --credentials=***"},
		{"--auth=", "x --auth=user:pw", "x --auth=***"},
		{"-token=", "x -token=abc", "x -token=***"},
		{"TOKEN=", "env TOKEN=abc pytest", "env TOKEN=*** pytest"},
		{"DB_PASSWORD=", "env DB_PASSWORD=abc pytest", "env DB_PASSWORD=*** pytest"},
		{"PGPASSWORD=", "PGPASSWORD=abc psql", "PGPASSWORD=*** psql"},
		{"case-insensitive", "x --Api-Key=K", "x --Api-Key=***"},
		{"value with '='", "x --token=a=b=c", "x --token=***"},
		// option-argument: --key value
		{"--password value", "app --password hunter2 run", "app --password *** run"},
		{"--token value", "pytest --token ghp_abc123 tests/", "pytest --token *** tests/"},
		{"-secret value", "x -secret s3", "x -secret ***"},
		{"--auth-token value", "x --auth-token t1 --verbose", "x --auth-token *** --verbose"},
		{"--api-key value", "x --api-key k1", "x --api-key ***"},
		{"option after secret option is kept", "x --auth --verbose", "x --auth --verbose"},
		{"two in a row", "x --token a --password b", "x --token *** --password ***"},
		// URL userinfo
		{"url user:password", "git clone https://bob:hunter2@git.example.com/r.git", "git clone https://bob:***@git.example.com/r.git"},
		{"url token only", "git clone https://ghp_abc@github.com/r.git", "git clone https://***@github.com/r.git"},
		{"url with '@' in password", "psql postgres://u:p@ss@db:5432/x", "psql postgres://u:***@db:5432/x"},
		{"url empty password", "x redis://:pw@cache:6379", "x redis://:***@cache:6379"},
		// key words that count only as a whole part of the name
		{"--pass=", "x --pass=hunter2", "x --pass=***"},
		{"DB_PASS=", "env DB_PASS=hunter2 app", "env DB_PASS=*** app"},
		{"--passphrase x", "gpg --passphrase hunter2 -d f", "gpg --passphrase *** -d f"},
		{"-pass value (openssl)", "openssl enc -pass pass:hunter2 -in f", "openssl enc -pass *** -in f"},
		{"--key=", "app --key=sk_live_abcdef123456", "app --key=***"},
		{"--access-key=", "app --access-key=abc", "app --access-key=***"},
		{"--private-key value", "app --private-key k1 run", "app --private-key *** run"},
		{"AWS_SECRET_ACCESS_KEY=", "env AWS_SECRET_ACCESS_KEY=abc aws", "env AWS_SECRET_ACCESS_KEY=*** aws"},
		{"--bypass= is kept", "x --bypass=cache", "x --bypass=cache"},
		{"--passes= is kept", "x --passes=3", "x --passes=3"},
		{"--keyword value is kept", "x --keyword value", "x --keyword value"},
		{"--monkey= is kept", "x --monkey=patch", "x --monkey=patch"},
		{"letters that fold to ASCII", "x --ſecret=abc --Key k", "x --ſecret=*** --Key ***"},
		{"tabs between arguments", "x\t--token\tabc\tTOKEN=def", "x\t--token\t***\tTOKEN=***"},
		{"empty value is kept", "x --token= y", "x --token= y"},
		// short password options of database and ssh clients
		{"mysql -p", "mysql -uroot -phunter2 db", "mysql -uroot -p*** db"},
		{"mysqldump -p", "/usr/bin/mysqldump -h db -u root -phunter2 --all-databases", "/usr/bin/mysqldump -h db -u root -p*** --all-databases"},
		{"mariadb -p", "mariadb -phunter2", "mariadb -p***"},
		{"mysql behind a wrapper", "sh -c mysql -uroot -phunter2 app < dump.sql", "sh -c mysql -uroot -p*** app < dump.sql"},
		{"mysql lone -p prompts", "mysql -p -uroot", "mysql -p -uroot"},
		{"mysql -P is the port", "mysql -P3306 -phunter2", "mysql -P3306 -p***"},
		{"-p without mysql is kept", "mkdir -pv /tmp/x", "mkdir -pv /tmp/x"},
		{"sshpass -p", "sshpass -p hunter2 ssh host", "sshpass -p *** ssh host"},
		{"sshpass -p glued", "sshpass -phunter2 ssh host", "sshpass -p*** ssh host"},
		{"redis-cli -a", "redis-cli -h cache -a hunter2 ping", "redis-cli -h cache -a *** ping"},
		// headers
		{"Authorization Bearer", "curl -H Authorization: Bearer abc123def https://api.example.com", "curl -H Authorization: Bearer *** https://api.example.com"},
		{"Authorization Basic", "curl -H Authorization: Basic dXNlcjpwYXNz https://x", "curl -H Authorization: Basic *** https://x"},
		{"Authorization token", "curl --header=Authorization:token abc https://x", "curl --header=Authorization:token *** https://x"},
		{"Proxy-Authorization", "curl -H Proxy-Authorization: Basic dXNlcjpwYXNz", "curl -H Proxy-Authorization: Basic ***"},
		{"X-Api-Key header", "curl -H X-Api-Key: k1 https://x", "curl -H X-Api-Key: *** https://x"},
		{"Private-Token header", "curl -H PRIVATE-TOKEN: glpat-x https://x", "curl -H PRIVATE-TOKEN: *** https://x"},
		{"Cookie header", "curl -H Cookie: session=abc https://x", "curl -H Cookie: *** https://x"},
		{"bare Bearer", "wget --header=Bearer abc123def", "wget --header=Bearer ***"},
		{"bare Basic", "app Basic dXNlcjpwYXNz", "app Basic ***"},
		{"Basic words are kept", "app --mode basic authentication", "app --mode basic authentication"},
		// bare tokens
		{"GitHub ghp_", "app ghp_0123456789abcdefghijABCDEFGHIJ012345 x", "app ghp_*** x"},
		{"GitHub gho_", "app gho_0123456789abcdefghijABCDEFGHIJ012345", "app gho_***"},
		{"GitHub ghs_", "app ghs_0123456789abcdefghijABCDEFGHIJ012345", "app ghs_***"},
		{"GitHub github_pat_", "app github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", "app github_pat_***"},
		{"GitLab glpat-", "app glpat-0123456789abcdefghij", "app glpat-***"},
		{"Slack xoxb-", "app xoxb-1234567890-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "app xoxb-***"},
		{"Slack xoxp-", "app xoxp-1234567890-1234567890-1234567890123-abcdef", "app xoxp-***"},
		{"AWS AKIA", "aws --profile x AKIAIOSFODNN7EXAMPLE s3 ls", "aws --profile x AKIA*** s3 ls"},
		{"AWS ASIA", "app ASIAIOSFODNN7EXAMPLE", "app ASIA***"},
		{"Stripe sk_live_", "app sk_live_4eC39HqLyjWDarjtT1zdp7dc", "app sk_live_***"},
		{"Stripe rk_test_", "app rk_test_4eC39HqLyjWDarjtT1zdp7dc", "app rk_test_***"},
		{"sk- key", "app sk-proj-abcdefghijklmnopqrstuvwxyz012345", "app sk-***"},
		{"Google AIza", "app AIzaSyA-0123456789abcdefghijklmnopqrstu", "app AIza***"},
		{"npm_", "app npm_0123456789abcdefghijklmnopqrstuvwxyz", "app npm_***"},
		{"JWT", "app eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U x", "app eyJ*** x"},
		{"short sk- is kept", "ssh -i disk-key host", "ssh -i disk-key host"},
		// the examples and their relatives
		{"curl -u", "curl -u admin:S3cret https://x", "curl -u admin:*** https://x"},
		{"curl -u glued", "curl -uadmin:S3cret https://x", "curl -uadmin:*** https://x"},
		{"curl --user", "/usr/bin/curl -s --user admin:S3cret https://x", "/usr/bin/curl -s --user admin:*** https://x"},
		{"curl -sSu combined", "curl -sSu admin:S3cret https://x", "curl -sSu admin:*** https://x"},
		{"curl --proxy-user", "curl --proxy-user bob:S3cret https://x", "curl --proxy-user bob:*** https://x"},
		{"curl -U", "curl -U bob:S3cret https://x", "curl -U bob:*** https://x"},
		{"curl -u without password prompts", "curl -u admin https://x", "curl -u admin https://x"},
		{"docker login -p", "docker login -u bob -p S3cret registry.example.com", "docker login -u bob -p *** registry.example.com"},
		{"docker login -p glued", "docker login -pS3cret", "docker login -p***"},
		{"podman login -p", "podman login --username bob -p S3cret quay.io", "podman login --username bob -p *** quay.io"},
		{"helm registry login -p", "helm registry login r.io -u bob -p S3cret", "helm registry login r.io -u bob -p ***"},
		{"docker login --password-stdin stays", "docker login --username bob --password-stdin registry.example.com", "docker login --username bob --password-stdin registry.example.com"},
		{"docker run -p is a port", "docker run -p 8080:80 nginx", "docker run -p 8080:80 nginx"},
		{"az login -p", "az login --service-principal -u app -p S3cret --tenant t", "az login --service-principal -u app -p *** --tenant t"},
		{"az acr login -p", "az acr login -n reg -u bob -p S3cret", "az acr login -n reg -u bob -p ***"},
		{"mongo -p", "mongo -u admin -p S3cret --host db", "mongo -u admin -p *** --host db"},
		{"mongosh -p", "mongosh mongodb://h -u admin -p S3cret", "mongosh mongodb://h -u admin -p ***"},
		{"mongodump -p glued", "mongodump -u admin -pS3cret", "mongodump -u admin -p***"},
		{"mongo -p prompts", "mongo -u admin -p --host h", "mongo -u admin -p --host h"},
		{"sqlcmd -P", "sqlcmd -S db -U sa -P S3cret -Q select", "sqlcmd -S db -U sa -P *** -Q select"},
		{"bcp -P", "bcp t out f -S db -U sa -PS3cret", "bcp t out f -S db -U sa -P***"},
		{"openssl -passin pass:", "openssl rsa -in k.pem -passin pass:S3cret -out o.pem", "openssl rsa -in k.pem -passin pass:*** -out o.pem"},
		{"openssl -passout pass:", "openssl genrsa -aes256 -passout pass:S3cret 2048", "openssl genrsa -aes256 -passout pass:*** 2048"},
		{"openssl -passin env: stays", "openssl rsa -passin env:KEYPW -in k.pem", "openssl rsa -passin env:KEYPW -in k.pem"},
		{"apksigner --ks-pass pass:", "apksigner sign --ks k.jks --ks-pass pass:S3cret a.apk", "apksigner sign --ks k.jks --ks-pass *** a.apk"},
		{"openssl enc -k", "openssl enc -aes-256-cbc -k S3cret -in f", "openssl enc -aes-256-cbc -k *** -in f"},
		{"keytool -storepass", "keytool -list -keystore k.jks -storepass S3cret", "keytool -list -keystore k.jks -storepass ***"},
		{"keytool -keypass", "keytool -genkeypair -alias a -keypass S3cret -storepass S3cret", "keytool -genkeypair -alias a -keypass *** -storepass ***"},
		{"keytool -srcstorepass -deststorepass", "keytool -importkeystore -srcstorepass S3cret -deststorepass S3cret", "keytool -importkeystore -srcstorepass *** -deststorepass ***"},
		{"keytool -srckeypass -destkeypass", "keytool -importkeystore -srckeypass S3cret -destkeypass S3cret", "keytool -importkeystore -srckeypass *** -destkeypass ***"},
		{"keytool -new", "keytool -storepasswd -new S3cret -keystore k.jks", "keytool -storepasswd -new *** -keystore k.jks"},
		{"keytool -storepass:env stays", "keytool -list -storepass:env PW", "keytool -list -storepass:env PW"},
		{"jarsigner -storepass", "jarsigner -keystore k.jks -storepass S3cret a.jar alias", "jarsigner -keystore k.jks -storepass *** a.jar alias"},
		{"smbclient -U", "smbclient //srv/share -U user%S3cret", "smbclient //srv/share -U user%***"},
		{"smbclient -U glued", "smbclient //srv/share -Uuser%S3cret", "smbclient //srv/share -Uuser%***"},
		{"smbclient --user=", "smbclient //srv/share --user=DOM/user%S3cret", "smbclient //srv/share --user=DOM/user%***"},
		{"net ads join -U", "net ads join -U admin%S3cret", "net ads join -U admin%***"},
		{"rpcclient -U", "rpcclient -U user%S3cret srv", "rpcclient -U user%*** srv"},
		{"smbclient -U without password", "smbclient //srv/share -U user", "smbclient //srv/share -U user"},
		{"htpasswd -b", "htpasswd -b /etc/h.htpasswd user S3cret", "htpasswd -b /etc/h.htpasswd user ***"},
		{"htpasswd -cbB", "htpasswd -cbB -C 10 f user S3cret", "htpasswd -cbB -C 10 f user ***"},
		{"htpasswd -nb", "htpasswd -nb user S3cret", "htpasswd -nb user ***"},
		{"htpasswd -n prompts", "htpasswd -n user", "htpasswd -n user"},
		{"htpasswd without -b prompts", "htpasswd -c f user", "htpasswd -c f user"},
		{"aws configure set secret key", "aws configure set aws_secret_access_key S3cret", "aws configure set aws_secret_access_key ***"},
		{"aws configure set profile's key", "aws configure set profile.ci.aws_secret_access_key S3cret --profile ci", "aws configure set profile.ci.aws_secret_access_key *** --profile ci"},
		{"aws configure set session token", "aws configure set aws_session_token S3cret", "aws configure set aws_session_token ***"},
		{"aws configure set region stays", "aws configure set region eu-west-1", "aws configure set region eu-west-1"},
		{"yarn config set", "yarn config set npmAuthToken S3cret", "yarn config set npmAuthToken ***"},
		{"dotnet user-secrets set", "dotnet user-secrets set Movies:ServiceApiKey S3cret", "dotnet user-secrets set Movies:ServiceApiKey ***"},
		{"mysqladmin -p", "mysqladmin -uroot -pS3cret status", "mysqladmin -uroot -p*** status"},
		{"psql URL", "psql postgresql://app:S3cret@db:5432/app", "psql postgresql://app:***@db:5432/app"},
		{"psql URL query password", "psql postgresql://db/app?sslmode=require&password=S3cret", "psql postgresql://db/app?sslmode=require&password=***"},
		{"psql conninfo", "psql host=db user=app password=S3cret dbname=app", "psql host=db user=app password=*** dbname=app"},
		{"jdbc URL query", "java -jar app.jar jdbc:postgresql://db/app?user=app&password=S3cret&ssl=true", "java -jar app.jar jdbc:postgresql://db/app?user=app&password=***&ssl=true"},
		{"URL access_token", "curl https://api.example.com/v1?x=1&access_token=S3cret&y=2", "curl https://api.example.com/v1?x=1&access_token=***&y=2"},
		{"Azure SAS sig", "azcopy copy f https://a.blob.core.windows.net/c?sv=2022&sig=S3cret", "azcopy copy f https://a.blob.core.windows.net/c?sv=2022&sig=***"},
		{"mount -o password", "mount -t cifs //srv/s /mnt -o user=bob,password=S3cret,uid=0", "mount -t cifs //srv/s /mnt -o user=bob,password=***,uid=0"},
		{"ldapsearch -w", "ldapsearch -x -D cn=admin -w S3cret -b dc=x", "ldapsearch -x -D cn=admin -w *** -b dc=x"},
		{"zip -P", "zip -P S3cret out.zip f", "zip -P *** out.zip f"},
		{"7z -p", "7z x -pS3cret a.7z", "7z x -p*** a.7z"},
		{"7z lone -p prompts", "7z x -p a.7z", "7z x -p a.7z"},
		{"sqlplus logon", "sqlplus -s scott/S3cret@orcl @run.sql", "sqlplus -s scott/***@orcl @run.sql"},
		{"sqlldr userid", "sqlldr userid=scott/S3cret control=x.ctl", "sqlldr userid=scott/*** control=x.ctl"},
		{"rman target", "rman target sys/S3cret@db", "rman target sys/***@db"},
		{"sqlplus as sysdba stays", "sqlplus / as sysdba", "sqlplus / as sysdba"},
		{"--password-file stays", "app --password-file /run/secrets/db run", "app --password-file /run/secrets/db run"},
		{"DB_PASSWORD_FILE stays", "env DB_PASSWORD_FILE=/run/secrets/db app", "env DB_PASSWORD_FILE=/run/secrets/db app"},
		{"--ask-pass stays", "ansible-playbook --ask-pass site.yml", "ansible-playbook --ask-pass site.yml"},
		{"--no-password stays", "psql --no-password app", "psql --no-password app"},
		// nothing to mask
		{"no secret", "python3 -m pytest tests/test_auth.py -k token", "python3 -m pytest tests/test_auth.py -k token"},
		{"plain url", "curl https://example.com/a@b", "curl https://example.com/a@b"},
	}
	r := newTestRedactor(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, r.Redact(tt.in))
		})
	}
}

func TestRedactCustom(t *testing.T) {
	r := newTestRedactor(t, `sk-[A-Za-z0-9]+`, `(?i)bearer \S+`)
	require.Equal(t, "x --key *** -H ***", r.Redact("x --key sk-abc123 -H Bearer xyz"))
}

// The README lists every built-in rule, in the order they run.
func TestReadmeListsEveryRule(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	last := 0
	for _, rule := range builtinRules {
		i := strings.Index(string(readme), "| `"+rule.name+"` |")
		require.Positive(t, i, "rule %s not in the README's table", rule.name)
		require.Greater(t, i, last, "rule %s out of order", rule.name)
		last = i
	}
}
