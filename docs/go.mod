module github.com/kratosauth/kratosauth/docs

go 1.26.0
