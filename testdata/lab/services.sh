#!/usr/bin/env bash
# services.sh — a lab of real daemons for fingerprint's end-to-end test and
# benchmark.
#
#   bash testdata/lab/services.sh up DIR     start the lab, state in DIR
#   bash testdata/lab/services.sh down DIR   stop it and delete its namespace
#   bash testdata/lab/services.sh install    apt-get the daemons' packages
#   bash testdata/lab/services.sh missing    list those not installed
#
# `up` (as root) creates one network namespace of its own whose only
# interface is loopback, and starts Debian's own daemons inside it, each in
# the foreground with a config written under DIR (nothing is enabled as a
# system service, nothing listens in the root namespace). Every daemon that
# came up is written to DIR/truth.tsv, one line each:
#
#   ip  port  proto  service  product-regexp  package  dpkg-version  upstream-version  name  shown
#
# where product-regexp is a case-insensitive regular expression that a
# correct product name matches (so "Apache httpd" and "Apache" both count),
# and upstream-version is the package version without epoch, Debian revision
# or repack suffix: what the daemon itself calls its version. DIR/netns holds
# the namespace's name, DIR/pids the PIDs the script started. Daemons that
# did not come up are named on stderr and left out of the truth.
#
# `down` kills the PIDs it started and anything else still running inside
# its own namespace (only the lab's daemons and their children can be
# there), then deletes the namespace. It never touches another process.
set -uo pipefail

IP=127.0.0.1

log() { printf 'lab: %s\n' "$*" >&2; }

# The packages the lab runs. .ci/run installs the same list.
PACKAGES=(
	openssh-server dropbear-bin nginx lighttpd apache2 redis-server memcached
	mariadb-server postgresql vsftpd exim4-daemon-light dovecot-imapd
	dovecot-pop3d slapd mosquitto rsync git squid varnish bind9 unbound nsd
	dnsmasq-base ngircd tinyproxy python3-werkzeug gunicorn snmpd ntpsec
	haproxy kamailio influxdb nats-server beanstalkd inspircd prosody coturn
	caddy samba openbsd-inetd inetutils-telnetd tigervnc-standalone-server
	rabbitmq-server openssl iproute2
)

install_packages() {
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		# Keep maintainer scripts from starting the daemons in the root
		# namespace; the lab starts its own copies.
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		trap 'rm -f /usr/sbin/policy-rc.d' EXIT
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
}

# missing_packages prints the lab's packages that are not installed.
missing_packages() {
	local pkg
	for pkg in "${PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q 'install ok installed' || echo "$pkg"
	done
}

# upstream turns a Debian version into the daemon's own: 1:9.2p1-2+deb12u10
# -> 9.2p1, 1:2.3.19.1+dfsg1-2.1 -> 2.3.19.1, 1.6.7~rc0-1 -> 1.6.7.
upstream() {
	local v=$1
	v=${v#*:}
	v=${v%-*}
	v=${v%%[+~]*}
	printf '%s' "$v"
}

D=
NS=
declare -a STARTED=()

# nsrun runs a command inside the lab namespace.
nsrun() { ip netns exec "$NS" "$@"; }

# start NAME CMD... starts one daemon in the foreground inside the
# namespace, in a session of its own, logging to DIR/log/NAME.log.
start() {
	local name=$1
	shift
	ip netns exec "$NS" setsid "$@" >"$D/log/$name.log" 2>&1 </dev/null &
	local pid=$!
	echo "$pid $name" >>"$D/pids"
	STARTED+=("$name")
}

# expect NAME PORT PROTO SERVICE PRODUCT-RE PACKAGE [SHOWN] records what
# NAME should look like once it listens. SERVICE may list names that
# mean the same thing, separated by |. SHOWN is "yes" when the daemon, as
# configured here, tells its version to an anonymous client (in a banner, a
# header, a greeting), "no" when it does not.
expect() {
	local name=$1 port=$2 proto=$3 service=$4 product=$5 pkg=$6 shown=${7:-yes} ver
	ver=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null) || ver=
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$IP" "$port" "$proto" "$service" "$product" "$pkg" "$ver" "$(upstream "$ver")" "$shown" >>"$D/expect.tsv"
}

have() { command -v "$1" >/dev/null 2>&1 || [ -x "$1" ]; }

lab_ssh() {
	have /usr/sbin/sshd || return 0
	mkdir -p "$D/ssh" /run/sshd
	ssh-keygen -q -t ed25519 -N '' -f "$D/ssh/host_ed25519" </dev/null
	cat >"$D/ssh/sshd_config" <<-EOF
		Port 22
		ListenAddress $IP
		HostKey $D/ssh/host_ed25519
		PidFile $D/ssh/sshd.pid
		UsePAM no
		PasswordAuthentication no
	EOF
	start sshd /usr/sbin/sshd -D -e -f "$D/ssh/sshd_config"
	expect sshd 22 tcp ssh 'openssh' openssh-server
}

lab_dropbear() {
	have /usr/sbin/dropbear || return 0
	mkdir -p "$D/dropbear"
	dropbearkey -t ed25519 -f "$D/dropbear/host_ed25519" >/dev/null 2>&1
	start dropbear /usr/sbin/dropbear -F -E -p "$IP:2222" -r "$D/dropbear/host_ed25519" -P "$D/dropbear/pid"
	expect dropbear 2222 tcp ssh 'dropbear' dropbear-bin
}

lab_cert() {
	mkdir -p "$D/tls"
	openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj '/CN=lab.picket.test' \
		-addext 'subjectAltName=DNS:lab.picket.test' \
		-keyout "$D/tls/key.pem" -out "$D/tls/cert.pem" >/dev/null 2>&1
	chmod 644 "$D/tls/key.pem"
}

lab_nginx() {
	have /usr/sbin/nginx || return 0
	mkdir -p "$D/nginx/tmp"
	cat >"$D/nginx/nginx.conf" <<-EOF
		worker_processes 1;
		pid $D/nginx/nginx.pid;
		error_log $D/nginx/error.log;
		events { worker_connections 256; }
		http {
			access_log off;
			client_body_temp_path $D/nginx/tmp/body;
			proxy_temp_path $D/nginx/tmp/proxy;
			fastcgi_temp_path $D/nginx/tmp/fastcgi;
			uwsgi_temp_path $D/nginx/tmp/uwsgi;
			scgi_temp_path $D/nginx/tmp/scgi;
			server { listen $IP:80; root $D/www; }
			server {
				listen $IP:8443 ssl;
				ssl_certificate $D/tls/cert.pem;
				ssl_certificate_key $D/tls/key.pem;
				root $D/www;
			}
		}
	EOF
	start nginx /usr/sbin/nginx -c "$D/nginx/nginx.conf" -g 'daemon off;'
	expect nginx 80 tcp http 'nginx' nginx
	expect nginx-tls 8443 tcp 'ssl/http|ssl/https|https' 'nginx' nginx
}

lab_lighttpd() {
	have /usr/sbin/lighttpd || return 0
	mkdir -p "$D/lighttpd"
	cat >"$D/lighttpd/lighttpd.conf" <<-EOF
		server.document-root = "$D/www"
		server.bind = "$IP"
		server.port = 8080
		server.pid-file = "$D/lighttpd/pid"
		server.errorlog = "$D/lighttpd/error.log"
		index-file.names = ( "index.html" )
	EOF
	start lighttpd /usr/sbin/lighttpd -D -f "$D/lighttpd/lighttpd.conf"
	expect lighttpd 8080 tcp http 'lighttpd' lighttpd
}

lab_apache() {
	have /usr/sbin/apache2 || return 0
	mkdir -p "$D/apache"
	local m=/usr/lib/apache2/modules
	cat >"$D/apache/apache2.conf" <<-EOF
		ServerRoot /etc/apache2
		DefaultRuntimeDir $D/apache
		PidFile $D/apache/apache2.pid
		ErrorLog $D/apache/error.log
		LoadModule mpm_event_module $m/mod_mpm_event.so
		LoadModule authz_core_module $m/mod_authz_core.so
		LoadModule dir_module $m/mod_dir.so
		LoadModule mime_module $m/mod_mime.so
		User www-data
		Group www-data
		TypesConfig /etc/mime.types
		ServerName lab.picket.test
		ServerTokens OS
		Listen $IP:8081
		DocumentRoot $D/www
		<Directory $D/www>
			Require all granted
		</Directory>
	EOF
	start apache2 /usr/sbin/apache2 -DFOREGROUND -f "$D/apache/apache2.conf"
	expect apache2 8081 tcp http 'apache' apache2
}

lab_redis() {
	have /usr/bin/redis-server || return 0
	mkdir -p "$D/redis"
	chown redis: "$D/redis"
	start redis runuser -u redis -- /usr/bin/redis-server --port 6379 --bind "$IP" --daemonize no \
		--dir "$D/redis" --save '' --appendonly no --logfile ''
	expect redis 6379 tcp redis 'redis' redis-server
}

lab_memcached() {
	have /usr/bin/memcached || return 0
	start memcached /usr/bin/memcached -u memcache -l "$IP" -p 11211 -U 0 -m 16
	expect memcached 11211 tcp memcached 'memcache' memcached
}

lab_mariadb() {
	have /usr/sbin/mariadbd || return 0
	mkdir -p "$D/mysql/data"
	chown -R mysql: "$D/mysql"
	mariadb-install-db --no-defaults --user=mysql --datadir="$D/mysql/data" \
		--auth-root-authentication-method=socket --skip-test-db >"$D/log/mariadb-install.log" 2>&1 || {
		log "mariadb-install-db failed, see $D/log/mariadb-install.log"
		return 0
	}
	start mariadb /usr/sbin/mariadbd --no-defaults --user=mysql --datadir="$D/mysql/data" \
		--socket="$D/mysql/sock" --pid-file="$D/mysql/pid" --port=3306 --bind-address="$IP" \
		--skip-log-bin --innodb-buffer-pool-size=16M
	expect mariadb 3306 tcp mysql 'mariadb|mysql' mariadb-server
}

lab_postgresql() {
	local bin
	bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
	[ -n "$bin" ] || return 0
	mkdir -p "$D/pg"
	chown postgres: "$D/pg"
	runuser -u postgres -- "$bin/initdb" -D "$D/pg/data" -U postgres --auth-local=peer \
		--auth-host=scram-sha-256 >"$D/log/initdb.log" 2>&1 || {
		log "initdb failed, see $D/log/initdb.log"
		return 0
	}
	start postgresql runuser -u postgres -- "$bin/postgres" -D "$D/pg/data" -k "$D/pg" -h "$IP" -p 5432
	local major
	major=$(basename "$(dirname "$bin")")
	expect postgresql 5432 tcp postgresql 'postgres' "postgresql-$major" no
}

lab_vsftpd() {
	have /usr/sbin/vsftpd || return 0
	mkdir -p "$D/vsftpd/empty"
	cat >"$D/vsftpd/vsftpd.conf" <<-EOF
		listen=YES
		listen_address=$IP
		listen_port=2121
		background=NO
		anonymous_enable=NO
		local_enable=YES
		secure_chroot_dir=$D/vsftpd/empty
		xferlog_enable=NO
	EOF
	start vsftpd /usr/sbin/vsftpd "$D/vsftpd/vsftpd.conf"
	expect vsftpd 2121 tcp ftp 'vsftpd' vsftpd
}

lab_exim() {
	have /usr/sbin/exim4 || return 0
	mkdir -p "$D/exim"
	# Debian's own configuration, on the lab's address and port.
	start exim4 /usr/sbin/exim4 -bdf -oX "25" -oP "$D/exim/pid"
	expect exim4 25 tcp smtp 'exim' exim4-daemon-light
}

lab_dovecot() {
	have /usr/sbin/dovecot || return 0
	mkdir -p "$D/dovecot/run" "$D/dovecot/state" "$D/dovecot/mail"
	cat >"$D/dovecot/dovecot.conf" <<-EOF
		protocols = imap pop3
		listen = $IP
		base_dir = $D/dovecot/run
		state_dir = $D/dovecot/state
		log_path = $D/log/dovecot-daemon.log
		ssl = no
		disable_plaintext_auth = no
		mail_location = maildir:$D/dovecot/mail/%u
		passdb {
			driver = static
			args = password=lab
		}
		userdb {
			driver = static
			args = uid=nobody gid=nogroup home=$D/dovecot/mail/%u
		}
		service imap-login {
			inet_listener imap {
				port = 143
			}
		}
		service pop3-login {
			inet_listener pop3 {
				port = 1110
			}
		}
	EOF
	start dovecot /usr/sbin/dovecot -F -c "$D/dovecot/dovecot.conf"
	expect dovecot-imap 143 tcp imap 'dovecot' dovecot-imapd no
	expect dovecot-pop3 1110 tcp pop3 'dovecot' dovecot-pop3d no
}

lab_slapd() {
	have /usr/sbin/slapd || return 0
	mkdir -p "$D/ldap/db"
	chown -R openldap: "$D/ldap"
	cat >"$D/ldap/slapd.conf" <<-EOF
		include /etc/ldap/schema/core.schema
		pidfile $D/ldap/slapd.pid
		argsfile $D/ldap/slapd.args
		modulepath /usr/lib/ldap
		moduleload back_mdb
		database mdb
		maxsize 16777216
		suffix "dc=lab,dc=test"
		rootdn "cn=admin,dc=lab,dc=test"
		directory $D/ldap/db
	EOF
	chown openldap: "$D/ldap/slapd.conf"
	start slapd /usr/sbin/slapd -d 0 -u openldap -g openldap -h "ldap://$IP:389/" -f "$D/ldap/slapd.conf"
	expect slapd 389 tcp ldap 'openldap' slapd no
}

lab_mosquitto() {
	have /usr/sbin/mosquitto || return 0
	mkdir -p "$D/mosquitto"
	chown mosquitto: "$D/mosquitto"
	# No listener line: Mosquitto 2 then listens on localhost only and
	# lets anonymous clients in, its shipped default.
	cat >"$D/mosquitto/mosquitto.conf" <<-EOF
		pid_file $D/mosquitto/pid
		persistence false
		log_dest stderr
	EOF
	start mosquitto /usr/sbin/mosquitto -c "$D/mosquitto/mosquitto.conf"
	expect mosquitto 1883 tcp mqtt 'mosquitto' mosquitto
}

lab_rsync() {
	have /usr/bin/rsync || return 0
	mkdir -p "$D/rsync"
	cat >"$D/rsync/rsyncd.conf" <<-EOF
		pid file = $D/rsync/pid
		use chroot = no
		[pub]
		path = $D/www
		read only = yes
	EOF
	start rsync /usr/bin/rsync --daemon --no-detach --config="$D/rsync/rsyncd.conf" --address="$IP" --port=873
	expect rsync 873 tcp rsync 'rsync' rsync no
}

lab_git() {
	have /usr/bin/git || return 0
	mkdir -p "$D/git"
	git init -q --bare "$D/git/lab.git"
	start git-daemon /usr/bin/git daemon --listen="$IP" --port=9418 --base-path="$D/git" \
		--export-all --reuseaddr "$D/git"
	expect git-daemon 9418 tcp git 'git' git no
}

lab_squid() {
	have /usr/sbin/squid || return 0
	mkdir -p "$D/squid"
	chown proxy: "$D/squid"
	cat >"$D/squid/squid.conf" <<-EOF
		http_port $IP:3128
		pid_filename $D/squid/squid.pid
		cache_log $D/squid/cache.log
		access_log none
		cache deny all
		coredump_dir $D/squid
		netdb_filename none
		http_access allow localhost
		http_access deny all
	EOF
	start squid /usr/sbin/squid -N -f "$D/squid/squid.conf"
	expect squid 3128 tcp 'http-proxy|http' 'squid' squid
}

lab_varnish() {
	have /usr/sbin/varnishd || return 0
	mkdir -p "$D/varnish"
	# Varnish in front of lighttpd, as a cache is deployed.
	start varnish /usr/sbin/varnishd -F -a "$IP:6081" -b "$IP:8080" -n "$D/varnish" -s malloc,16m
	expect varnish 6081 tcp http 'varnish' varnish no
}

lab_bind() {
	have /usr/sbin/named || return 0
	mkdir -p "$D/bind"
	chown bind: "$D/bind"
	cat >"$D/bind/named.conf" <<-EOF
		options {
			directory "$D/bind";
			pid-file "$D/bind/named.pid";
			listen-on port 53 { $IP; };
			listen-on-v6 { none; };
			recursion no;
		};
	EOF
	chmod 644 "$D/bind/named.conf"
	start named /usr/sbin/named -f -u bind -c "$D/bind/named.conf"
	expect named 53 tcp domain 'bind' bind9
	expect named-udp 53 udp domain 'bind' bind9
}

lab_unbound() {
	have /usr/sbin/unbound || return 0
	mkdir -p "$D/unbound"
	cat >"$D/unbound/unbound.conf" <<-EOF
		server:
			interface: $IP@8053
			do-daemonize: no
			username: ""
			chroot: ""
			pidfile: "$D/unbound/pid"
			use-syslog: no
			logfile: ""
			do-ip6: no
	EOF
	start unbound /usr/sbin/unbound -d -c "$D/unbound/unbound.conf"
	expect unbound 8053 tcp domain 'unbound' unbound
}

lab_nsd() {
	have /usr/sbin/nsd || return 0
	mkdir -p "$D/nsd"
	cat >"$D/nsd/nsd.conf" <<-EOF
		server:
			ip-address: $IP
			port: 5300
			do-ip6: no
			username: ""
			chroot: ""
			pidfile: "$D/nsd/pid"
			database: ""
			zonesdir: "$D/nsd"
			zonelistfile: "$D/nsd/zone.list"
			xfrdfile: "$D/nsd/xfrd.state"
			xfrdir: "$D/nsd"
			logfile: "$D/nsd/nsd.log"
		remote-control:
			control-enable: no
	EOF
	start nsd /usr/sbin/nsd -d -c "$D/nsd/nsd.conf"
	expect nsd 5300 tcp domain 'nsd' nsd
}

lab_dnsmasq() {
	have /usr/sbin/dnsmasq || return 0
	start dnsmasq /usr/sbin/dnsmasq -k -C /dev/null --port=5353 --listen-address="$IP" --bind-interfaces \
		--no-resolv --no-hosts --pid-file="$D/dnsmasq.pid" --user=nobody
	expect dnsmasq 5353 tcp domain 'dnsmasq' dnsmasq-base
}

lab_ngircd() {
	have /usr/sbin/ngircd || return 0
	mkdir -p "$D/ngircd"
	cat >"$D/ngircd/ngircd.conf" <<-EOF
		[Global]
			Name = irc.lab.test
			Info = picket lab
			Listen = $IP
			Ports = 6667
			PidFile = $D/ngircd/pid
			MotdPhrase = picket lab
		[Options]
			DNS = no
			Ident = no
			PAM = no
	EOF
	start ngircd /usr/sbin/ngircd -n -f "$D/ngircd/ngircd.conf"
	expect ngircd 6667 tcp irc 'ngircd' ngircd
}

lab_tinyproxy() {
	have /usr/bin/tinyproxy || return 0
	mkdir -p "$D/tinyproxy"
	cat >"$D/tinyproxy/tinyproxy.conf" <<-EOF
		Port 8888
		Listen $IP
		Timeout 60
		PidFile "$D/tinyproxy/pid"
		Allow 127.0.0.1
		MaxClients 20
	EOF
	start tinyproxy /usr/bin/tinyproxy -d -c "$D/tinyproxy/tinyproxy.conf"
	expect tinyproxy 8888 tcp 'http-proxy|http' 'tinyproxy' tinyproxy
}

lab_python() {
	mkdir -p "$D/py"
	cat >"$D/py/labapp.py" <<-'EOF'
		def app(environ, start_response):
		    start_response("200 OK", [("Content-Type", "text/html")])
		    return [b"<html><head><title>picket lab app</title></head><body>ok</body></html>"]
	EOF
	if have /usr/bin/gunicorn; then
		start gunicorn /usr/bin/gunicorn --bind "$IP:8000" --workers 1 --chdir "$D/py" labapp:app
		expect gunicorn 8000 tcp http 'gunicorn' gunicorn no
	fi
	if /usr/bin/python3 -c 'import werkzeug' 2>/dev/null; then
		start werkzeug /usr/bin/python3 -c "import sys; sys.path.insert(0, '$D/py'); from labapp import app; from werkzeug.serving import run_simple; run_simple('$IP', 5000, app)"
		expect werkzeug 5000 tcp http 'werkzeug' python3-werkzeug
	fi
}

lab_snmpd() {
	have /usr/sbin/snmpd || return 0
	mkdir -p "$D/snmp"
	cat >"$D/snmp/snmpd.conf" <<-EOF
		rocommunity public 127.0.0.1
		sysLocation picket lab
		sysContact lab@picket.test
	EOF
	start snmpd /usr/sbin/snmpd -f -Lo -C -c "$D/snmp/snmpd.conf" -p "$D/snmp/pid" "udp:$IP:161"
	expect snmpd 161 udp snmp 'net-snmp' snmpd
}

lab_ntpd() {
	have /usr/sbin/ntpd || return 0
	mkdir -p "$D/ntp"
	# Debian's restrictions: no queries from elsewhere, full access from
	# localhost (where the lab's scanner sits).
	cat >"$D/ntp/ntp.conf" <<-EOF
		driftfile $D/ntp/drift
		restrict default kod nomodify nopeer noquery limited
		restrict 127.0.0.1
		interface ignore wildcard
		interface listen 127.0.0.1
	EOF
	start ntpd /usr/sbin/ntpd -n -g -c "$D/ntp/ntp.conf" -p "$D/ntp/pid"
	expect ntpd 123 udp ntp 'ntpsec' ntpsec
}

lab_haproxy() {
	have /usr/sbin/haproxy || return 0
	mkdir -p "$D/haproxy"
	cat >"$D/haproxy/haproxy.cfg" <<-EOF
		global
			pidfile $D/haproxy/pid
		defaults
			mode http
			timeout connect 5s
			timeout client 30s
			timeout server 30s
		frontend stats
			bind $IP:8404
			stats enable
			stats uri /
	EOF
	start haproxy /usr/sbin/haproxy -db -f "$D/haproxy/haproxy.cfg"
	expect haproxy 8404 tcp http 'haproxy' haproxy
}

lab_kamailio() {
	have /usr/sbin/kamailio || return 0
	mkdir -p "$D/kamailio"
	local mp
	mp=$(dirname "$(find /usr/lib -name sl.so -path '*kamailio*' 2>/dev/null | head -1)")
	cat >"$D/kamailio/kamailio.cfg" <<-EOF
		#!KAMAILIO
		listen=udp:$IP:5060
		listen=tcp:$IP:5060
		children=1
		mpath="$mp/"
		loadmodule "sl.so"
		request_route {
			if (method == "OPTIONS") {
				sl_send_reply("200", "OK");
				exit;
			}
			sl_send_reply("404", "Not here");
		}
	EOF
	start kamailio /usr/sbin/kamailio -DD -E -f "$D/kamailio/kamailio.cfg" -P "$D/kamailio/pid" -m 32 -M 8 -Y "$D/kamailio"
	expect kamailio 5060 tcp 'sip|sip-proxy' 'kamailio' kamailio
	expect kamailio-udp 5060 udp 'sip|sip-proxy' 'kamailio' kamailio
}

lab_influxdb() {
	have /usr/bin/influxd || return 0
	mkdir -p "$D/influxdb"
	cat >"$D/influxdb/influxdb.conf" <<-EOF
		reporting-disabled = true
		bind-address = "$IP:8088"
		[meta]
			dir = "$D/influxdb/meta"
		[data]
			dir = "$D/influxdb/data"
			wal-dir = "$D/influxdb/wal"
		[http]
			bind-address = "$IP:8086"
	EOF
	start influxdb /usr/bin/influxd -config "$D/influxdb/influxdb.conf"
	expect influxdb 8086 tcp http 'influx' influxdb
}

lab_rabbitmq() {
	have /usr/lib/rabbitmq/bin/rabbitmq-server || return 0
	mkdir -p "$D/rabbitmq"
	start rabbitmq env HOME="$D/rabbitmq" RABBITMQ_NODENAME=rabbit@localhost \
		RABBITMQ_NODE_IP_ADDRESS="$IP" RABBITMQ_NODE_PORT=5672 \
		RABBITMQ_MNESIA_BASE="$D/rabbitmq/mnesia" RABBITMQ_LOG_BASE="$D/rabbitmq/log" \
		RABBITMQ_PID_FILE="$D/rabbitmq/pid" RABBITMQ_ENABLED_PLUGINS_FILE="$D/rabbitmq/plugins" \
		RABBITMQ_CONFIG_FILE="$D/rabbitmq/rabbitmq" RABBITMQ_DIST_PORT=25672 \
		ERL_EPMD_ADDRESS="$IP" /usr/lib/rabbitmq/bin/rabbitmq-server
	expect rabbitmq 5672 tcp amqp 'rabbitmq' rabbitmq-server
}

lab_nats() {
	have /usr/sbin/nats-server || return 0
	mkdir -p "$D/nats"
	start nats /usr/sbin/nats-server -a "$IP" -p 4222 -P "$D/nats/pid"
	expect nats 4222 tcp nats 'nats' nats-server
}

lab_beanstalkd() {
	have /usr/bin/beanstalkd || return 0
	start beanstalkd /usr/bin/beanstalkd -l "$IP" -p 11300 -u nobody
	expect beanstalkd 11300 tcp beanstalkd 'beanstalk' beanstalkd
}

lab_inspircd() {
	have /usr/sbin/inspircd || return 0
	mkdir -p "$D/inspircd"
	cat >"$D/inspircd/inspircd.conf" <<-EOF
		<server name="irc2.lab.test" description="picket lab" network="PicketLab">
		<admin name="lab" nick="lab" email="lab@picket.test">
		<bind address="$IP" port="6669" type="clients">
		<connect allow="*" timeout="60" pingfreq="120" maxchans="20" localmax="100" globalmax="100" resolvehostnames="no">
		<pid file="$D/inspircd/inspircd.pid">
		<log method="file" type="* -USERINPUT -USEROUTPUT" level="default" target="$D/inspircd/ircd.log">
	EOF
	start inspircd /usr/sbin/inspircd --nofork --runasroot --config="$D/inspircd/inspircd.conf"
	expect inspircd 6669 tcp irc 'inspircd' inspircd no
}

lab_prosody() {
	have /usr/bin/prosody || return 0
	mkdir -p "$D/prosody/data"
	cat >"$D/prosody/prosody.cfg.lua" <<-EOF
		pidfile = "$D/prosody/prosody.pid"
		data_path = "$D/prosody/data"
		daemonize = false
		run_as_root = true
		interfaces = { "$IP" }
		c2s_ports = { 5222 }
		modules_enabled = { "roster", "saslauth", "disco", "ping" }
		modules_disabled = { "s2s" }
		c2s_require_encryption = false
		allow_unencrypted_plain_auth = true
		log = { info = "$D/prosody/prosody.log" }
		VirtualHost "localhost"
	EOF
	start prosody /usr/bin/prosody --config "$D/prosody/prosody.cfg.lua" -F
	expect prosody 5222 tcp 'xmpp-client|jabber|xmpp' 'prosody' prosody no
}

lab_coturn() {
	have /usr/bin/turnserver || return 0
	mkdir -p "$D/coturn"
	start coturn /usr/bin/turnserver -n --listening-ip="$IP" --listening-port=3478 --pidfile="$D/coturn/pid" \
		--log-file=stdout --simple-log --no-tls --no-dtls --no-cli
	expect coturn 3478 tcp stun 'coturn' coturn
	expect coturn-udp 3478 udp stun 'coturn' coturn
}

lab_caddy() {
	have /usr/bin/caddy || return 0
	mkdir -p "$D/caddy"
	cat >"$D/caddy/Caddyfile" <<-EOF
		{
			admin off
			auto_https off
		}
		:2015 {
			bind $IP
			respond "picket lab"
		}
	EOF
	start caddy env HOME="$D/caddy" XDG_DATA_HOME="$D/caddy" XDG_CONFIG_HOME="$D/caddy" \
		/usr/bin/caddy run --config "$D/caddy/Caddyfile" --adapter caddyfile
	expect caddy 2015 tcp http 'caddy' caddy no
}

lab_samba() {
	have /usr/sbin/smbd || return 0
	local s=$D/samba
	mkdir -p "$s/lock" "$s/state" "$s/cache" "$s/private" "$s/pid"
	cat >"$s/smb.conf" <<-EOF
		[global]
			interfaces = lo
			bind interfaces only = yes
			smb ports = 445
			disable netbios = yes
			pid directory = $s/pid
			lock directory = $s/lock
			state directory = $s/state
			cache directory = $s/cache
			private dir = $s/private
			log file = $s/log
	EOF
	start smbd /usr/sbin/smbd --foreground --no-process-group -s "$s/smb.conf"
	expect smbd 445 tcp 'microsoft-ds|netbios-ssn' 'samba' samba no
}

lab_telnetd() {
	have /usr/sbin/inetd || return 0
	have /usr/sbin/telnetd || return 0
	mkdir -p "$D/inetd"
	echo 'telnet stream tcp nowait root /usr/sbin/telnetd telnetd' >"$D/inetd/inetd.conf"
	start inetd /usr/sbin/inetd -d "$D/inetd/inetd.conf"
	expect telnetd 23 tcp telnet 'telnetd' inetutils-telnetd no
}

lab_vnc() {
	have /usr/bin/Xtigervnc || return 0
	# A display number of the lab's own, so that two labs do not share
	# an X lock file.
	local display=$((100 + $$ % 800))
	start tigervnc /usr/bin/Xtigervnc ":$display" -rfbport 5900 -interface "$IP" -SecurityTypes None -nolisten tcp
	expect tigervnc 5900 tcp vnc 'vnc' tigervnc-standalone-server no
}

# listening PORT PROTO reports whether something in the namespace listens.
listening() {
	local port=$1 proto=$2 flag=-ltnH
	[ "$proto" = udp ] && flag=-lunH
	nsrun ss "$flag" "sport = :$port" 2>/dev/null | grep -q .
}

up() {
	D=$1
	if [ "$(id -u)" -ne 0 ]; then
		echo "lab: must run as root (it creates a network namespace and starts daemons)" >&2
		exit 1
	fi
	mkdir -p "$D/log"
	chmod 755 "$D"
	: >"$D/pids"
	: >"$D/expect.tsv"
	NS=picket-fplab-$$
	ip netns add "$NS" || exit 1
	echo "$NS" >"$D/netns"
	ip -n "$NS" link set lo up
	mkdir -p "$D/www"
	echo '<html><head><title>picket lab</title></head><body>lab</body></html>' >"$D/www/index.html"
	lab_cert
	local only=${LAB_ONLY:-}
	local f
	for f in ssh dropbear nginx lighttpd apache redis memcached mariadb postgresql vsftpd exim dovecot \
		slapd mosquitto rsync git squid varnish bind unbound nsd dnsmasq ngircd tinyproxy python \
		snmpd ntpd haproxy kamailio influxdb nats beanstalkd inspircd prosody coturn caddy samba telnetd vnc rabbitmq; do
		if [ -n "$only" ] && [[ " $only " != *" $f "* ]]; then
			continue
		fi
		"lab_$f"
	done
	# Wait for every expected port to listen (RabbitMQ is the slowest).
	local deadline=$((SECONDS + ${LAB_WAIT:-90})) pending name ip port proto rest
	while :; do
		pending=0
		while IFS=$'\t' read -r name ip port proto rest; do
			listening "$port" "$proto" || pending=$((pending + 1))
		done <"$D/expect.tsv"
		[ "$pending" -eq 0 ] && break
		[ "$SECONDS" -ge "$deadline" ] && break
		sleep 0.5
	done
	printf 'ip\tport\tproto\tservice\tproduct\tpackage\tdpkg_version\tversion\tname\tshown\n' >"$D/truth.tsv"
	local up=0
	while IFS=$'\t' read -r name ip port proto service product pkg ver upver shown; do
		if listening "$port" "$proto"; then
			printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$ip" "$port" "$proto" "$service" "$product" "$pkg" "$ver" "$upver" "$name" "$shown" >>"$D/truth.tsv"
			up=$((up + 1))
		else
			log "$name did not listen on $port/$proto (see $D/log/)"
		fi
	done <"$D/expect.tsv"
	log "$up services up in namespace $NS (truth in $D/truth.tsv)"
}

down() {
	D=$1
	[ -f "$D/netns" ] || return 0
	NS=$(cat "$D/netns")
	local pid name
	if [ -f "$D/pids" ]; then
		while read -r pid name; do
			kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
		done <"$D/pids"
	fi
	# Whatever the daemons forked is still inside the lab's namespace, and
	# nothing else can be: end it there.
	local i
	for i in $(seq 1 50); do
		[ -n "$(ip netns pids "$NS" 2>/dev/null)" ] || break
		sleep 0.1
	done
	for pid in $(ip netns pids "$NS" 2>/dev/null); do
		kill -KILL "$pid" 2>/dev/null
	done
	for i in $(seq 1 50); do
		[ -n "$(ip netns pids "$NS" 2>/dev/null)" ] || break
		sleep 0.1
	done
	ip netns delete "$NS" 2>/dev/null
	rm -f "$D/netns"
}

case "${1:-}" in
up) up "${2:?usage: services.sh up DIR}" ;;
down) down "${2:?usage: services.sh down DIR}" ;;
install) install_packages ;;
packages) printf '%s\n' "${PACKAGES[@]}" ;;
missing) missing_packages ;;
*)
	echo "usage: services.sh up DIR | down DIR | install | packages | missing" >&2
	exit 2
	;;
esac
