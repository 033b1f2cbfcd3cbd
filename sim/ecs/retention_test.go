package ecs_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/meshsim/meshsim/sim/ecs"
)

// TestECSForgets deletes a service whose tasks failed to start: the
// INACTIVE service, its service deployment and its STOPPED tasks stay
// visible for an hour of ECS time (36 s at a time scale of 100), and are
// gone after it.
func TestECSForgets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const second = 10 * time.Millisecond // a time scale of 100
		fake, client := memWorld(t, ecs.Options{Second: second})
		defer fake.Close()
		ctx := context.Background()
		cluster := aws.String(testCluster)
		created, err := client.CreateService(ctx, &sdk.CreateServiceInput{
			Cluster: cluster, ServiceName: aws.String("web"), TaskDefinition: aws.String("web"), DesiredCount: aws.Int32(1),
		})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		if _, err := client.UpdateService(ctx, &sdk.UpdateServiceInput{Cluster: cluster, Service: aws.String("web"), DesiredCount: aws.Int32(0)}); err != nil {
			t.Fatal(err)
		}
		if _, err := client.DeleteService(ctx, &sdk.DeleteServiceInput{Cluster: cluster, Service: aws.String("web")}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		deleted := time.Now()
		list, err := client.ListTasks(ctx, &sdk.ListTasksInput{Cluster: cluster, ServiceName: aws.String("web"), DesiredStatus: types.DesiredStatusStopped})
		if err != nil || len(list.TaskArns) == 0 {
			t.Fatalf("stopped tasks: %v %v", list, err)
		}
		sdARN := aws.ToString(created.Service.CurrentServiceDeployment)
		look := func() (service string, tasks, deployments int) {
			t.Helper()
			svc, err := client.DescribeServices(ctx, &sdk.DescribeServicesInput{Cluster: cluster, Services: []string{"web"}})
			if err != nil {
				t.Fatal(err)
			}
			service = "MISSING"
			if len(svc.Services) == 1 {
				service = aws.ToString(svc.Services[0].Status)
			}
			desc, err := client.DescribeTasks(ctx, &sdk.DescribeTasksInput{Cluster: cluster, Tasks: list.TaskArns})
			if err != nil {
				t.Fatal(err)
			}
			sd, err := client.DescribeServiceDeployments(ctx, &sdk.DescribeServiceDeploymentsInput{ServiceDeploymentArns: []string{sdARN}})
			if err != nil {
				t.Fatal(err)
			}
			return service, len(desc.Tasks), len(sd.ServiceDeployments)
		}

		time.Sleep(time.Until(deleted.Add(3600*second - 2*time.Second)))
		if service, tasks, deployments := look(); service != "INACTIVE" || tasks != len(list.TaskArns) || deployments != 1 {
			t.Errorf("just before an hour of ECS time: service %s, %d of %d tasks, %d service deployments; want all visible",
				service, tasks, len(list.TaskArns), deployments)
		}
		time.Sleep(time.Until(deleted.Add(3600*second + 2*time.Second)))
		if service, tasks, deployments := look(); service != "MISSING" || tasks != 0 || deployments != 0 {
			t.Errorf("after an hour of ECS time: service %s, %d tasks, %d service deployments; want all forgotten", service, tasks, deployments)
		}
	})
}
