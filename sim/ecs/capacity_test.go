package ecs_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

const testASG = "arn:aws:autoscaling:eu-west-1:000000000000:autoScalingGroup:1:autoScalingGroupName/asg"

// TestCapacityProviders creates, updates, associates and deletes capacity
// providers, and checks what each call returns and refuses.
func TestCapacityProviders(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	all, err := w.client.DescribeCapacityProviders(ctx, &sdk.DescribeCapacityProvidersInput{})
	if err != nil || len(all.CapacityProviders) != 2 || aws.ToString(all.CapacityProviders[0].Name) != "FARGATE" || aws.ToString(all.CapacityProviders[1].Name) != "FARGATE_SPOT" {
		t.Fatalf("built-in capacity providers: %+v %v", all, err)
	}
	created, err := w.client.CreateCapacityProvider(ctx, &sdk.CreateCapacityProviderInput{
		Name: aws.String("ec2"),
		AutoScalingGroupProvider: &types.AutoScalingGroupProvider{
			AutoScalingGroupArn: aws.String(testASG),
			ManagedScaling:      &types.ManagedScaling{Status: types.ManagedScalingStatusEnabled, TargetCapacity: aws.Int32(80)},
		},
		Tags: []types.Tag{tag("tier", "ec2")},
	})
	if err != nil {
		t.Fatal(err)
	}
	cp := created.CapacityProvider
	if aws.ToString(cp.Name) != "ec2" || cp.Status != types.CapacityProviderStatusActive || aws.ToString(cp.AutoScalingGroupProvider.AutoScalingGroupArn) != testASG ||
		aws.ToInt32(cp.AutoScalingGroupProvider.ManagedScaling.TargetCapacity) != 80 || tagMap(cp.Tags)["tier"] != "ec2" ||
		aws.ToString(cp.CapacityProviderArn) != "arn:aws:ecs:eu-west-1:000000000000:capacity-provider/ec2" {
		t.Errorf("created %+v", cp)
	}
	upd, err := w.client.UpdateCapacityProvider(ctx, &sdk.UpdateCapacityProviderInput{Name: aws.String("ec2"),
		AutoScalingGroupProvider: &types.AutoScalingGroupProviderUpdate{ManagedScaling: &types.ManagedScaling{TargetCapacity: aws.Int32(60)}}})
	if err != nil || aws.ToInt32(upd.CapacityProvider.AutoScalingGroupProvider.ManagedScaling.TargetCapacity) != 60 ||
		upd.CapacityProvider.UpdateStatus != types.CapacityProviderUpdateStatusUpdateComplete ||
		aws.ToString(upd.CapacityProvider.AutoScalingGroupProvider.AutoScalingGroupArn) != testASG {
		t.Errorf("UpdateCapacityProvider: %+v %v", upd, err)
	}

	put, err := w.client.PutClusterCapacityProviders(ctx, &sdk.PutClusterCapacityProvidersInput{
		Cluster: aws.String(testCluster), CapacityProviders: []string{"ec2", "FARGATE"},
		DefaultCapacityProviderStrategy: []types.CapacityProviderStrategyItem{{CapacityProvider: aws.String("FARGATE"), Weight: 1, Base: 1}},
	})
	if err != nil || strings.Join(put.Cluster.CapacityProviders, ",") != "ec2,FARGATE" || len(put.Cluster.DefaultCapacityProviderStrategy) != 1 {
		t.Fatalf("PutClusterCapacityProviders: %+v %v", put, err)
	}
	// A task without a launch type runs on the cluster's default strategy.
	w.registerFamily(t, "vpc", types.NetworkModeAwsvpc, "256", "512")
	run, err := w.client.RunTask(ctx, &sdk.RunTaskInput{Cluster: aws.String(testCluster), TaskDefinition: aws.String("vpc"), NetworkConfiguration: testNetwork})
	if err != nil || len(run.Tasks) != 1 || aws.ToString(run.Tasks[0].CapacityProviderName) != "FARGATE" {
		t.Errorf("RunTask on the default strategy: %+v %v", run, err)
	}

	checkStrategySpread(t, w)

	errs := []struct {
		name     string
		call     func() error
		code, in string
	}{
		{"reserved name", func() error {
			_, err := w.client.CreateCapacityProvider(ctx, &sdk.CreateCapacityProviderInput{Name: aws.String("fargate-x"),
				AutoScalingGroupProvider: &types.AutoScalingGroupProvider{AutoScalingGroupArn: aws.String(testASG)}})
			return err
		}, "InvalidParameterException", "cannot begin with 'aws', 'ecs', or 'fargate'"},
		{"duplicate", func() error {
			_, err := w.client.CreateCapacityProvider(ctx, &sdk.CreateCapacityProviderInput{Name: aws.String("ec2"),
				AutoScalingGroupProvider: &types.AutoScalingGroupProvider{AutoScalingGroupArn: aws.String(testASG)}})
			return err
		}, "ClientException", "already exists"},
		{"in use", func() error {
			_, err := w.client.DeleteCapacityProvider(ctx, &sdk.DeleteCapacityProviderInput{CapacityProvider: aws.String("ec2")})
			return err
		}, "ClientException", "in use"},
		{"strategy outside the cluster", func() error {
			_, err := w.client.PutClusterCapacityProviders(ctx, &sdk.PutClusterCapacityProvidersInput{Cluster: aws.String(testCluster),
				CapacityProviders:               []string{"ec2"},
				DefaultCapacityProviderStrategy: []types.CapacityProviderStrategyItem{{CapacityProvider: aws.String("FARGATE_SPOT")}}})
			return err
		}, "InvalidParameterException", "not associated with the cluster"},
		{"unknown provider", func() error {
			_, err := w.client.PutClusterCapacityProviders(ctx, &sdk.PutClusterCapacityProvidersInput{Cluster: aws.String(testCluster),
				CapacityProviders: []string{"nope"}, DefaultCapacityProviderStrategy: []types.CapacityProviderStrategyItem{}})
			return err
		}, "ClientException", "does not exist"},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			code, msg := apiError(tt.call())
			if code != tt.code || !strings.Contains(msg, tt.in) {
				t.Errorf("got %s %q, want %s %q", code, msg, tt.code, tt.in)
			}
		})
	}
	// Once the cluster lets it go, it can be deleted.
	if _, err := w.client.PutClusterCapacityProviders(ctx, &sdk.PutClusterCapacityProvidersInput{Cluster: aws.String(testCluster),
		CapacityProviders: []string{"FARGATE"}, DefaultCapacityProviderStrategy: []types.CapacityProviderStrategyItem{}}); err != nil {
		t.Fatal(err)
	}
	del, err := w.client.DeleteCapacityProvider(ctx, &sdk.DeleteCapacityProviderInput{CapacityProvider: aws.String("ec2")})
	if err != nil || del.CapacityProvider.Status != types.CapacityProviderStatusInactive {
		t.Errorf("DeleteCapacityProvider: %+v %v", del, err)
	}
}

// TestClusterUpdates changes a cluster's settings, configuration and
// Service Connect defaults after it was created.
func TestClusterUpdates(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	out, err := w.client.UpdateCluster(ctx, &sdk.UpdateClusterInput{
		Cluster:                aws.String(testCluster),
		Settings:               []types.ClusterSetting{{Name: types.ClusterSettingNameContainerInsights, Value: aws.String("enhanced")}},
		Configuration:          &types.ClusterConfiguration{ExecuteCommandConfiguration: &types.ExecuteCommandConfiguration{Logging: types.ExecuteCommandLoggingDefault}},
		ServiceConnectDefaults: &types.ClusterServiceConnectDefaultsRequest{Namespace: aws.String("apps.local")},
	})
	if err != nil {
		t.Fatal(err)
	}
	c := out.Cluster
	if len(c.Settings) != 1 || aws.ToString(c.Settings[0].Value) != "enhanced" || c.Configuration == nil ||
		c.Configuration.ExecuteCommandConfiguration.Logging != types.ExecuteCommandLoggingDefault {
		t.Errorf("UpdateCluster: settings %+v configuration %+v", c.Settings, c.Configuration)
	}
	set, err := w.client.UpdateClusterSettings(ctx, &sdk.UpdateClusterSettingsInput{Cluster: aws.String(testCluster),
		Settings: []types.ClusterSetting{{Name: types.ClusterSettingNameContainerInsights, Value: aws.String("disabled")}}})
	if err != nil || len(set.Cluster.Settings) != 1 || aws.ToString(set.Cluster.Settings[0].Value) != "disabled" {
		t.Errorf("UpdateClusterSettings: %+v %v", set, err)
	}
	_, err = w.client.UpdateClusterSettings(ctx, &sdk.UpdateClusterSettingsInput{Cluster: aws.String(testCluster),
		Settings: []types.ClusterSetting{{Name: types.ClusterSettingNameContainerInsights, Value: aws.String("sometimes")}}})
	if code, msg := apiError(err); code != "InvalidParameterException" || !strings.Contains(msg, "enabled, disabled or enhanced") {
		t.Errorf("bad setting: %s %q", code, msg)
	}
	_, err = w.client.UpdateCluster(ctx, &sdk.UpdateClusterInput{Cluster: aws.String("nope")})
	if code, _ := apiError(err); code != "ClusterNotFoundException" {
		t.Errorf("UpdateCluster of no cluster: %v", err)
	}
}

// TestAccountSettings sets, lists and deletes account settings, and
// checks that the account's containerInsights is new clusters' default.
func TestAccountSettings(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	const user = "arn:aws:iam::000000000000:user/dev"
	put, err := w.client.PutAccountSetting(ctx, &sdk.PutAccountSettingInput{Name: types.SettingNameAwsvpcTrunking, Value: aws.String("enabled"), PrincipalArn: aws.String(user)})
	if err != nil || aws.ToString(put.Setting.Value) != "enabled" || aws.ToString(put.Setting.PrincipalArn) != user {
		t.Fatalf("PutAccountSetting: %+v %v", put, err)
	}
	if _, err := w.client.PutAccountSettingDefault(ctx, &sdk.PutAccountSettingDefaultInput{Name: types.SettingNameContainerInsights, Value: aws.String("enabled")}); err != nil {
		t.Fatal(err)
	}
	own, err := w.client.ListAccountSettings(ctx, &sdk.ListAccountSettingsInput{PrincipalArn: aws.String(user)})
	if err != nil || len(own.Settings) != 1 || own.Settings[0].Name != types.SettingNameAwsvpcTrunking {
		t.Errorf("the user's own settings: %+v %v", own, err)
	}
	effective := map[types.SettingName]string{}
	pager := sdk.NewListAccountSettingsPaginator(w.client, &sdk.ListAccountSettingsInput{PrincipalArn: aws.String(user), EffectiveSettings: true, MaxResults: 3})
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range page.Settings {
			effective[s.Name] = aws.ToString(s.Value)
		}
	}
	if len(effective) != 11 || effective[types.SettingNameAwsvpcTrunking] != "enabled" || effective[types.SettingNameContainerInsights] != "enabled" ||
		effective[types.SettingNameTaskLongArnFormat] != "enabled" {
		t.Errorf("effective settings: %v", effective)
	}
	cl, err := w.client.CreateCluster(ctx, &sdk.CreateClusterInput{ClusterName: aws.String("insights")})
	if err != nil || len(cl.Cluster.Settings) != 1 || aws.ToString(cl.Cluster.Settings[0].Value) != "enabled" {
		t.Errorf("new cluster's settings: %+v %v", cl, err)
	}
	del, err := w.client.DeleteAccountSetting(ctx, &sdk.DeleteAccountSettingInput{Name: types.SettingNameAwsvpcTrunking, PrincipalArn: aws.String(user)})
	if err != nil || aws.ToString(del.Setting.Value) != "enabled" {
		t.Errorf("DeleteAccountSetting: %+v %v", del, err)
	}
	errs := []struct {
		name string
		call func() error
		in   string
	}{
		{"bad value", func() error {
			_, err := w.client.PutAccountSetting(ctx, &sdk.PutAccountSettingInput{Name: types.SettingNameAwsvpcTrunking, Value: aws.String("maybe")})
			return err
		}, `The value "maybe" is not valid for awsvpcTrunking`},
		{"default-only setting", func() error {
			_, err := w.client.PutAccountSetting(ctx, &sdk.PutAccountSettingInput{Name: types.SettingNameFargateFipsMode, Value: aws.String("enabled")})
			return err
		}, "PutAccountSettingDefault"},
		{"delete what is not set", func() error {
			_, err := w.client.DeleteAccountSetting(ctx, &sdk.DeleteAccountSettingInput{Name: types.SettingNameAwsvpcTrunking, PrincipalArn: aws.String(user)})
			return err
		}, "is not set"},
		{"bad principal", func() error {
			_, err := w.client.PutAccountSetting(ctx, &sdk.PutAccountSettingInput{Name: types.SettingNameAwsvpcTrunking, Value: aws.String("enabled"), PrincipalArn: aws.String("bob")})
			return err
		}, "not an IAM"},
	}
	for _, tt := range errs {
		if code, msg := apiError(tt.call()); code != "InvalidParameterException" || !strings.Contains(msg, tt.in) {
			t.Errorf("%s: %s %q, want %q", tt.name, code, msg, tt.in)
		}
	}
}

// checkStrategySpread runs 5 tasks on FARGATE (base 1, weight 1) and
// FARGATE_SPOT (weight 3): the base first, then 1:3.
func checkStrategySpread(t *testing.T, w *world) {
	t.Helper()
	run, err := w.client.RunTask(context.Background(), &sdk.RunTaskInput{Cluster: aws.String(testCluster), TaskDefinition: aws.String("vpc"),
		NetworkConfiguration: testNetwork, Count: aws.Int32(5), CapacityProviderStrategy: []types.CapacityProviderStrategyItem{
			{CapacityProvider: aws.String("FARGATE"), Base: 1, Weight: 1}, {CapacityProvider: aws.String("ec2"), Weight: 3}}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, task := range run.Tasks {
		got[aws.ToString(task.CapacityProviderName)]++
	}
	if len(run.Tasks) != 5 || got["FARGATE"] != 2 || got["ec2"] != 3 {
		t.Errorf("5 tasks spread over FARGATE base 1 weight 1 and ec2 weight 3: %v", got)
	}
}
