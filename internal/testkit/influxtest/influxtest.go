// Package influxtest reads what a real InfluxDB 1.x server holds, for the
// tests that write to one: an InfluxQL query over HTTP, its answer as rows.
package influxtest

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"
)

// Row is one result row keyed by column, with its series' tags merged in.
type Row map[string]any

// Query runs InfluxQL statements against the database db of the server at
// baseURL and returns the rows of all their series. An unreachable server,
// or an error the server reports, is an error.
func Query(baseURL, db, q string) ([]Row, error) {
	client := http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(baseURL + "/query?" + url.Values{"db": {db}, "q": {q}}.Encode())
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }() // only read
	var body struct {
		Results []struct {
			Series []struct {
				Tags    map[string]string `json:"tags"`
				Columns []string          `json:"columns"`
				Values  [][]any           `json:"values"`
			} `json:"series"`
			Error string `json:"error"`
		} `json:"results"`
		Error string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, err
	}
	if body.Error != "" {
		return nil, errors.New("influxdb: " + body.Error)
	}
	var rows []Row
	for _, res := range body.Results {
		if res.Error != "" {
			return nil, errors.New("influxdb: " + res.Error)
		}
		for _, series := range res.Series {
			for _, values := range series.Values {
				r := Row{}
				for k, v := range series.Tags {
					r[k] = v
				}
				for i, c := range series.Columns {
					r[c] = values[i]
				}
				rows = append(rows, r)
			}
		}
	}
	return rows, nil
}
